package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

const fieldOwner = client.FieldOwner("memcached-operator")

type reconciler struct {
	client.Client
}

func setupController(mgr ctrl.Manager, workers int) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&Memcached{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Deployment status drives ours, so every Deployment change counts.
		Owns(&appsv1.Deployment{}).
		// Services and PDBs only matter when their spec changes or they go away.
		Owns(&corev1.Service{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&policyv1.PodDisruptionBudget{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(&reconciler{Client: mgr.GetClient()})
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var mc Memcached
	if err := r.Get(ctx, req.NamespacedName, &mc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !mc.DeletionTimestamp.IsZero() {
		// The children carry owner references: garbage collection removes them.
		return ctrl.Result{}, nil
	}

	var deployment appsv1.Deployment
	found, err := r.getChild(ctx, req.NamespacedName, &deployment)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.applyChildren(ctx, &mc, found, &deployment); err != nil {
		return ctrl.Result{}, err
	}

	var pods corev1.PodList
	if err := r.List(ctx, &pods, client.InNamespace(mc.Namespace), client.MatchingLabels(selectorLabels(&mc))); err != nil {
		return ctrl.Result{}, err
	}
	var live *appsv1.Deployment
	if found {
		live = &deployment
	}
	status := computeStatus(&mc, live, readyPodNames(pods.Items))
	if !equality.Semantic.DeepEqual(status, mc.Status) {
		patch := client.MergeFrom(mc.DeepCopy())
		mc.Status = status
		if err := r.Status().Patch(ctx, &mc, patch, fieldOwner); err != nil {
			return ctrl.Result{}, err
		}
	}
	// The Deployment may count a pod Ready before the pod cache has it.
	if live != nil && int(live.Status.ReadyReplicas) > len(status.Nodes) {
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	return ctrl.Result{}, nil
}

func (r *reconciler) getChild(ctx context.Context, key types.NamespacedName, obj client.Object) (bool, error) {
	if err := r.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// applyChildren server-side applies each child that is missing or whose
// desired-state hash changed; a converged object costs no request.
func (r *reconciler) applyChildren(ctx context.Context, mc *Memcached, haveDeployment bool, deployment *appsv1.Deployment) error {
	type child struct {
		key     types.NamespacedName
		live    client.Object
		desired runtime.ApplyConfiguration
		hash    string
	}
	d := desiredDeployment(mc)
	svc := desiredService(mc, false)
	headless := desiredService(mc, true)
	children := []child{
		{types.NamespacedName{Namespace: mc.Namespace, Name: *svc.Name}, &corev1.Service{}, svc, svc.Annotations[hashAnnotation]},
		{types.NamespacedName{Namespace: mc.Namespace, Name: *headless.Name}, &corev1.Service{}, headless, headless.Annotations[hashAnnotation]},
	}
	if pdb := desiredPDB(mc); pdb != nil {
		children = append(children, child{types.NamespacedName{Namespace: mc.Namespace, Name: *pdb.Name}, &policyv1.PodDisruptionBudget{}, pdb, pdb.Annotations[hashAnnotation]})
	}
	if !haveDeployment || deployment.Annotations[hashAnnotation] != d.Annotations[hashAnnotation] {
		if err := r.Apply(ctx, d, fieldOwner, client.ForceOwnership); err != nil {
			return fmt.Errorf("apply Deployment: %w", err)
		}
	}
	for _, c := range children {
		found, err := r.getChild(ctx, c.key, c.live)
		if err != nil {
			return err
		}
		if found && c.live.GetAnnotations()[hashAnnotation] == c.hash {
			continue
		}
		if err := r.Apply(ctx, c.desired, fieldOwner, client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s: %w", c.key.Name, err)
		}
	}
	return nil
}

func readyPodNames(pods []corev1.Pod) []string {
	names := []string{}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				names = append(names, p.Name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// computeStatus reports the same conditions as the TypeScript operator:
// Available, Progressing and Degraded, with its reasons.
func computeStatus(mc *Memcached, d *appsv1.Deployment, ready []string) MemcachedStatus {
	status := MemcachedStatus{
		Conditions:         slices.Clone(mc.Status.Conditions),
		ObservedGeneration: mc.Generation,
		Nodes:              ready,
	}
	set := func(t string, s metav1.ConditionStatus, reason, message string) {
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: message, ObservedGeneration: mc.Generation})
	}
	if d == nil {
		set("Available", metav1.ConditionFalse, "ReplicasNotReady", "The Deployment does not exist yet")
		set("Progressing", metav1.ConditionTrue, "Creating", "Creating the Deployment")
		set("Degraded", metav1.ConditionFalse, "AsExpected", "No problems observed")
		return status
	}
	desired := replicas(mc)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	s := d.Status
	status.Replicas, status.ReadyReplicas = s.Replicas, s.ReadyReplicas
	if desired > 0 && s.ReadyReplicas >= desired {
		set("Available", metav1.ConditionTrue, "AllReplicasReady", fmt.Sprintf("%d/%d replicas ready", s.ReadyReplicas, desired))
	} else {
		set("Available", metav1.ConditionFalse, "ReplicasNotReady", fmt.Sprintf("%d/%d replicas ready", s.ReadyReplicas, desired))
	}
	rolling := s.ObservedGeneration < d.Generation || s.UpdatedReplicas < desired || s.AvailableReplicas < s.UpdatedReplicas || s.Replicas > s.UpdatedReplicas
	if rolling {
		set("Progressing", metav1.ConditionTrue, "RollingOut", fmt.Sprintf("%d/%d replicas updated, %d available", s.UpdatedReplicas, desired, s.AvailableReplicas))
	} else {
		set("Progressing", metav1.ConditionFalse, "RolloutComplete", fmt.Sprintf("%d replicas up to date", desired))
	}
	if failure := deploymentFailure(d); failure != "" {
		set("Degraded", metav1.ConditionTrue, "DeploymentFailed", failure)
	} else {
		set("Degraded", metav1.ConditionFalse, "AsExpected", "No problems observed")
	}
	return status
}

func deploymentFailure(d *appsv1.Deployment) string {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			return "Deployment cannot create pods: " + c.Message
		}
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return "Deployment rollout stalled: " + c.Message
		}
	}
	return ""
}
