package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"
)

// The children of a Memcached, as the TypeScript operator shapes them for a
// cluster with zones and enough workers (the bench's ha profile): same names,
// labels, selectors, pod spec and PodDisruptionBudget. Fixed size: replicas
// are spec.size, with no topology detection.

const (
	defaultImage      = "docker.io/library/memcached:1.6.39-alpine"
	portName          = "memcached"
	managedBy         = "memcached-operator"
	hashAnnotation    = "cache.example.com/desired-hash"
	hostnameKey       = "kubernetes.io/hostname"
	zoneKey           = "topology.kubernetes.io/zone"
	arbiterRoleLabel  = "node-role.kubernetes.io/arbiter"
	defaultReplicas   = 3
	cpuRequest        = "250m"
	memoryHeadroomMi  = 32
	memoryHeadroomPct = 25
)

func selectorLabels(mc *Memcached) map[string]string {
	return map[string]string{"app.kubernetes.io/name": "memcached", "app.kubernetes.io/instance": mc.Name}
}

func standardLabels(mc *Memcached) map[string]string {
	l := selectorLabels(mc)
	l["app.kubernetes.io/component"] = "cache"
	l["app.kubernetes.io/part-of"] = "memcached"
	l["app.kubernetes.io/managed-by"] = managedBy
	return l
}

func replicas(mc *Memcached) int32 {
	if mc.Spec.Size != nil {
		return *mc.Spec.Size
	}
	return defaultReplicas
}

func port(mc *Memcached) int32 {
	if mc.Spec.ContainerPort != 0 {
		return mc.Spec.ContainerPort
	}
	return 11211
}

func orDefault(v, d int32) int32 {
	if v != 0 {
		return v
	}
	return d
}

func owner(mc *Memcached) *metav1ac.OwnerReferenceApplyConfiguration {
	return metav1ac.OwnerReference().
		WithAPIVersion(groupVersion.String()).WithKind("Memcached").
		WithName(mc.Name).WithUID(mc.UID).
		WithController(true).WithBlockOwnerDeletion(true)
}

func probe(period, failures int32) *corev1ac.ProbeApplyConfiguration {
	return corev1ac.Probe().
		WithTCPSocket(corev1ac.TCPSocketAction().WithPort(intstr.FromString(portName))).
		WithPeriodSeconds(period).WithTimeoutSeconds(1).WithSuccessThreshold(1).WithFailureThreshold(failures)
}

func desiredDeployment(mc *Memcached) *appsv1ac.DeploymentApplyConfiguration {
	n := replicas(mc)
	memMB := orDefault(mc.Spec.MemoryLimitMB, 64)
	// memcached -m plus 25% and 32Mi of headroom, rounded up (resources.ts).
	memory := resource.MustParse(fmt.Sprintf("%dMi", (memMB*(100+memoryHeadroomPct)+99)/100+memoryHeadroomMi))
	image := mc.Spec.Image
	if image == "" {
		image = defaultImage
	}
	container := corev1ac.Container().
		WithName("memcached").WithImage(image).
		WithCommand("memcached").
		WithArgs("-p", fmt.Sprint(port(mc)), "-U", "0",
			"-m", fmt.Sprint(memMB),
			"-c", fmt.Sprint(orDefault(mc.Spec.MaxConnections, 1024)),
			"-t", fmt.Sprint(orDefault(mc.Spec.Threads, 4))).
		WithPorts(corev1ac.ContainerPort().WithName(portName).WithContainerPort(port(mc)).WithProtocol(corev1.ProtocolTCP)).
		WithLivenessProbe(probe(10, 3)).
		WithReadinessProbe(probe(5, 1)).
		WithResources(corev1ac.ResourceRequirements().
			WithLimits(corev1.ResourceList{corev1.ResourceMemory: memory}).
			WithRequests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuRequest), corev1.ResourceMemory: memory})).
		WithSecurityContext(corev1ac.SecurityContext().
			WithAllowPrivilegeEscalation(false).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL")).
			WithReadOnlyRootFilesystem(true).
			WithRunAsNonRoot(true))

	affinity := corev1ac.Affinity().WithNodeAffinity(corev1ac.NodeAffinity().
		WithRequiredDuringSchedulingIgnoredDuringExecution(corev1ac.NodeSelector().
			WithNodeSelectorTerms(corev1ac.NodeSelectorTerm().
				WithMatchExpressions(corev1ac.NodeSelectorRequirement().
					WithKey(arbiterRoleLabel).WithOperator(corev1.NodeSelectorOpDoesNotExist)))))
	pod := corev1ac.PodSpec().
		WithAutomountServiceAccountToken(false).
		WithEnableServiceLinks(false).
		WithSecurityContext(corev1ac.PodSecurityContext().
			WithRunAsNonRoot(true).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))).
		WithContainers(container)
	// Pods roll one at a time while every pod must have a node of its own;
	// a single replica surges instead (deployment.ts, rolloutStrategy).
	strategy := appsv1ac.DeploymentStrategy().WithType("RollingUpdate")
	if n >= 2 {
		term := corev1ac.PodAffinityTerm().
			WithLabelSelector(metav1ac.LabelSelector().WithMatchLabels(selectorLabels(mc))).
			WithTopologyKey(hostnameKey)
		affinity.WithPodAntiAffinity(corev1ac.PodAntiAffinity().WithRequiredDuringSchedulingIgnoredDuringExecution(term))
		pod.WithTopologySpreadConstraints(corev1ac.TopologySpreadConstraint().
			WithMaxSkew(1).WithTopologyKey(zoneKey).
			WithWhenUnsatisfiable(corev1.ScheduleAnyway).
			WithLabelSelector(metav1ac.LabelSelector().WithMatchLabels(selectorLabels(mc))).
			WithMatchLabelKeys("pod-template-hash"))
		strategy.WithRollingUpdate(appsv1ac.RollingUpdateDeployment().WithMaxSurge(intstr.FromInt32(0)).WithMaxUnavailable(intstr.FromInt32(1)))
	} else {
		strategy.WithRollingUpdate(appsv1ac.RollingUpdateDeployment().WithMaxSurge(intstr.FromInt32(1)).WithMaxUnavailable(intstr.FromInt32(0)))
	}
	pod.WithAffinity(affinity)

	d := appsv1ac.Deployment(mc.Name, mc.Namespace).
		WithLabels(standardLabels(mc)).
		WithOwnerReferences(owner(mc)).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(n).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(selectorLabels(mc))).
			WithStrategy(strategy).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(standardLabels(mc)).
				WithSpec(pod)))
	return d.WithAnnotations(map[string]string{hashAnnotation: hashOf(d)})
}

func desiredService(mc *Memcached, headless bool) *corev1ac.ServiceApplyConfiguration {
	name := mc.Name
	spec := corev1ac.ServiceSpec().
		WithType(corev1.ServiceTypeClusterIP).
		WithSelector(selectorLabels(mc)).
		WithPorts(corev1ac.ServicePort().WithName(portName).WithPort(port(mc)).
			WithTargetPort(intstr.FromString(portName)).WithProtocol(corev1.ProtocolTCP))
	if headless {
		name += "-headless"
		spec.WithClusterIP(corev1.ClusterIPNone).WithPublishNotReadyAddresses(false)
	}
	s := corev1ac.Service(name, mc.Namespace).
		WithLabels(standardLabels(mc)).
		WithOwnerReferences(owner(mc)).
		WithSpec(spec)
	return s.WithAnnotations(map[string]string{hashAnnotation: hashOf(s)})
}

// desiredPDB is nil for a single replica: a PDB it can never satisfy would block drains.
func desiredPDB(mc *Memcached) *policyv1ac.PodDisruptionBudgetApplyConfiguration {
	if replicas(mc) < 2 {
		return nil
	}
	p := policyv1ac.PodDisruptionBudget(mc.Name, mc.Namespace).
		WithLabels(standardLabels(mc)).
		WithOwnerReferences(owner(mc)).
		WithSpec(policyv1ac.PodDisruptionBudgetSpec().
			WithMaxUnavailable(intstr.FromInt32(1)).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(selectorLabels(mc))).
			WithUnhealthyPodEvictionPolicy("AlwaysAllow"))
	return p.WithAnnotations(map[string]string{hashAnnotation: hashOf(p)})
}

// hashOf is a short digest of the desired object before the annotation is
// set; a cached child carrying the same value needs no apply.
func hashOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
