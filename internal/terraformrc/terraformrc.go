// Package terraformrc writes a Terraform CLI configuration that installs
// providers only from this machine's filesystem mirror, so `terraform init`
// works offline in tests that run without `make` (which writes the same file
// with scripts/terraformrc.sh).
package terraformrc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvMirror names a mirror directory explicitly, as scripts/terraformrc.sh
// reads it.
const EnvMirror = "CONVEYOR_TF_MIRROR"

// providerPath is where a filesystem mirror keeps the aws provider, below
// the mirror's root.
const providerPath = "registry.terraform.io/hashicorp/aws"

// candidates are the places mirrors are installed on the machines we run on.
var candidates = []string{
	"/opt/tf-plugins",
	"/usr/local/share/terraform/plugins",
	"/usr/share/terraform/plugins",
}

// ErrNoMirror means no mirror holding the aws provider was found.
var ErrNoMirror = errors.New("no filesystem mirror of " + providerPath + " found")

// FindMirror returns the root of a filesystem mirror holding the aws
// provider: $CONVEYOR_TF_MIRROR, or the first of the usual places (including
// ~/.terraform.d/plugins) that has one.
func FindMirror() (string, error) {
	if m := os.Getenv(EnvMirror); m != "" {
		if !hasProvider(m) {
			return "", fmt.Errorf("%s=%s holds no %s: %w", EnvMirror, m, providerPath, ErrNoMirror)
		}
		return m, nil
	}
	dirs := candidates
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append([]string{filepath.Join(home, ".terraform.d", "plugins")}, dirs...)
	}
	for _, d := range dirs {
		if hasProvider(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("looked in %v; set %s to the mirror's root: %w", dirs, EnvMirror, ErrNoMirror)
}

func hasProvider(root string) bool {
	info, err := os.Stat(filepath.Join(root, filepath.FromSlash(providerPath)))
	return err == nil && info.IsDir()
}

// Render returns the CLI configuration for a mirror rooted at mirror:
// hashicorp providers from the mirror only, never from the network.
func Render(mirror string) string {
	return fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
`, mirror)
}

// Write finds the mirror and writes the configuration to dir/terraformrc,
// returning the file's path for TF_CLI_CONFIG_FILE.
func Write(dir string) (string, error) {
	mirror, err := FindMirror()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(path, []byte(Render(mirror)), 0o644); err != nil {
		return "", fmt.Errorf("write terraform CLI config %s: %w", path, err)
	}
	return path, nil
}
