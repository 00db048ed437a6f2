// A controller-runtime operator for cache.example.com/v1alpha1 Memcached,
// kept beside the benchmark as the Go peer: what a Go team would write for
// the same job as the TypeScript operator (same children, same conditions,
// server-side apply), tuned the usual way. See docs/benchmarks.md.
//
//	peer-go --metrics-bind-address 127.0.0.1:8080 --max-concurrent-reconciles 4
//
// KUBECONFIG selects the cluster and WATCH_NAMESPACE the namespace (all
// namespaces when empty).
package main

import (
	"flag"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

func main() {
	var metricsAddr string
	var workers int
	flag.StringVar(&metricsAddr, "metrics-bind-address", "127.0.0.1:8080", "address of the Prometheus /metrics endpoint (0 disables it)")
	flag.IntVar(&workers, "max-concurrent-reconciles", 4, "reconciles run at once")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("peer-go")

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		panic(err)
	}
	if err := addKnownTypes(scheme); err != nil {
		panic(err)
	}

	// Cache only what the reconciler reads: our children (by label), no
	// managedFields anywhere, and of a Pod only its name, labels, deletion
	// and conditions.
	owned := labels.SelectorFromSet(labels.Set{"app.kubernetes.io/managed-by": managedBy})
	cacheOpts := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&appsv1.Deployment{}:            {Label: owned},
			&corev1.Service{}:               {Label: owned},
			&policyv1.PodDisruptionBudget{}: {Label: owned},
			&corev1.Pod{}:                   {Label: owned, Transform: slimPod},
		},
	}
	if ns := os.Getenv("WATCH_NAMESPACE"); ns != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{ns: {}}
	}

	// Client-side rate limiting is off by default in this controller-runtime
	// (the apiserver's priority and fairness decides), so no QPS/Burst tuning.
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                 scheme,
		Cache:                  cacheOpts,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		log.Error(err, "manager")
		os.Exit(1)
	}
	if err := setupController(mgr, workers); err != nil {
		log.Error(err, "controller")
		os.Exit(1)
	}
	log.Info("starting", "workers", workers, "namespace", os.Getenv("WATCH_NAMESPACE"))
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "manager stopped")
		os.Exit(1)
	}
}

// slimPod keeps what readyPodNames reads.
func slimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Pod{
		TypeMeta: pod.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID,
			ResourceVersion: pod.ResourceVersion, Labels: pod.Labels,
			DeletionTimestamp: pod.DeletionTimestamp,
		},
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			slim.Status.Conditions = []corev1.PodCondition{{Type: c.Type, Status: c.Status}}
		}
	}
	return slim, nil
}
