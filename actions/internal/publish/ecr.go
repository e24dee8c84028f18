package publish

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
)

// ecrHost matches a private ECR registry host and captures its account and
// region: 123456789012.dkr.ecr.us-east-1.amazonaws.com (also -fips and .cn).
var ecrHost = regexp.MustCompile(`^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$`)

// ECRRegistry returns the account and region of an ECR registry host, and
// false for any other host.
func ECRRegistry(host string) (account, region string, ok bool) {
	m := ecrHost.FindStringSubmatch(strings.ToLower(host))
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// ECRKeychain authenticates to ECR registries with a token from
// GetAuthorizationToken, in the region the registry host names. Other hosts
// go to Fallback (nil: anonymous). With Always set every host gets an ECR
// token from Config's region; that is how a local registry stands in for ECR.
type ECRKeychain struct {
	Config   aws.Config
	Always   bool
	Fallback authn.Keychain

	mu     sync.Mutex
	tokens map[string]authn.AuthConfig // by region
}

// Resolve implements authn.Keychain.
func (k *ECRKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

// ResolveContext implements authn.ContextKeychain.
func (k *ECRKeychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	host := r.RegistryStr()
	_, region, ok := ECRRegistry(host)
	if !ok && !k.Always {
		if k.Fallback == nil {
			return authn.Anonymous, nil
		}
		return authn.Resolve(ctx, k.Fallback, r)
	}
	if region == "" {
		region = k.Config.Region
	}
	ac, err := k.token(ctx, region)
	if err != nil {
		return nil, fmt.Errorf("ECR credentials for %s: %w", host, err)
	}
	return authn.FromConfig(ac), nil
}

func (k *ECRKeychain) token(ctx context.Context, region string) (authn.AuthConfig, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ac, ok := k.tokens[region]; ok {
		return ac, nil
	}
	client := ecr.NewFromConfig(k.Config, func(o *ecr.Options) {
		if region != "" {
			o.Region = region
		}
	})
	out, err := client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return authn.AuthConfig{}, fmt.Errorf("ecr:GetAuthorizationToken in %s: %w: the role needs ecr:GetAuthorizationToken (resource \"*\")", region, err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == nil {
		return authn.AuthConfig{}, fmt.Errorf("ecr:GetAuthorizationToken in %s returned no token", region)
	}
	ac, err := DecodeECRToken(*out.AuthorizationData[0].AuthorizationToken)
	if err != nil {
		return authn.AuthConfig{}, fmt.Errorf("ecr:GetAuthorizationToken in %s: %w", region, err)
	}
	if k.tokens == nil {
		k.tokens = map[string]authn.AuthConfig{}
	}
	k.tokens[region] = ac
	return ac, nil
}

// DecodeECRToken turns ECR's token, base64 of "user:password" (the user is
// AWS), into basic-auth credentials.
func DecodeECRToken(token string) (authn.AuthConfig, error) {
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return authn.AuthConfig{}, fmt.Errorf("authorization token is not base64: %w", err)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user == "" || pass == "" {
		return authn.AuthConfig{}, fmt.Errorf("authorization token is not user:password")
	}
	return authn.AuthConfig{Username: user, Password: pass}, nil
}
