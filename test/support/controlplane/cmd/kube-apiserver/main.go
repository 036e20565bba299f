// kube-apiserver, exactly as upstream's cmd/kube-apiserver builds it, with one sandbox knob:
// REKEY_SANDBOX_ENCRYPTION_CONFIG_POLL (a Go duration) sets how often the apiserver re-reads its
// --encryption-provider-config under automatic reload. Upstream polls every minute and exports the
// variable for its own integration tests; the sandbox shortens it for managed-encryption sandboxes
// only, so a configuration stage converges in seconds. Unset, nothing changes.
package main

import (
	"fmt"
	"os"
	"time"
	_ "time/tzdata"

	encryptionconfigcontroller "k8s.io/apiserver/pkg/server/options/encryptionconfig/controller"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	if v := os.Getenv("REKEY_SANDBOX_ENCRYPTION_CONFIG_POLL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "REKEY_SANDBOX_ENCRYPTION_CONFIG_POLL: %q is not a positive duration\n", v)
			os.Exit(2)
		}
		encryptionconfigcontroller.EncryptionConfigFileChangePollDuration = d
	}
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
