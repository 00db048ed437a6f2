// Command csvrbac prints the RBAC that OLM's catalog operator would create
// for a ClusterServiceVersion installed in a namespace: the ServiceAccount,
// Roles, RoleBindings, ClusterRoles and ClusterRoleBindings of the
// InstallPlan's steps, computed by OLM's own resolver
// (resolver.NewServiceAccountStepResources, as the catalog operator calls it).
//
// The catalog operator needs a catalog served from a pod and bundle-unpack
// jobs, which cannot run without a container runtime; this lets the OLM
// proof apply the same objects and then let the real olm operator install
// the CSV.
//
//	csvrbac CSV_FILE NAMESPACE > rbac.json
//
// Owner references carry an empty UID, as in the InstallPlan: the caller
// sets the CSV's UID before applying them.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/operator-framework/operator-lifecycle-manager/pkg/controller/registry/resolver"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: csvrbac CSV_FILE NAMESPACE")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "csvrbac:", err)
		os.Exit(1)
	}
}

func run(file, namespace string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var csv v1alpha1.ClusterServiceVersion
	if err := yaml.UnmarshalStrict(data, &csv); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	csv.SetNamespace(namespace)
	steps, err := resolver.NewServiceAccountStepResources(&csv, "", "")
	if err != nil {
		return err
	}
	// A step's manifest leaves its type to the step; the catalog operator
	// fills the owner's UID in when it creates the object, once the CSV exists.
	items := make([]map[string]any, 0, len(steps))
	for _, step := range steps {
		var obj map[string]any
		if err := json.Unmarshal([]byte(step.Manifest), &obj); err != nil {
			return fmt.Errorf("step %s %s: %w", step.Kind, step.Name, err)
		}
		apiVersion := step.Version
		if step.Group != "" {
			apiVersion = step.Group + "/" + step.Version
		}
		obj["apiVersion"], obj["kind"] = apiVersion, step.Kind
		items = append(items, obj)
	}
	out, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(out))
	return err
}
