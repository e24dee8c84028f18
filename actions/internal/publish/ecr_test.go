package publish

import (
	"context"
	"encoding/base64"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/conveyor-dev/conveyor/internal/motoserver"
)

func TestECRRegistryHost(t *testing.T) {
	for _, tc := range []struct {
		host            string
		account, region string
		ok              bool
	}{
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com", "123456789012", "us-east-1", true},
		{"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "123456789012", "us-gov-west-1", true},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "123456789012", "cn-north-1", true},
		{"ghcr.io", "", "", false},
		{"127.0.0.1:5000", "", "", false},
		{"12345.dkr.ecr.us-east-1.amazonaws.com", "", "", false},
	} {
		a, r, ok := ECRRegistry(tc.host)
		if a != tc.account || r != tc.region || ok != tc.ok {
			t.Errorf("%s: got %q %q %v", tc.host, a, r, ok)
		}
	}
}

func TestDecodeECRToken(t *testing.T) {
	ac, err := DecodeECRToken(base64.StdEncoding.EncodeToString([]byte("AWS:s3cr:et")))
	if err != nil || ac.Username != "AWS" || ac.Password != "s3cr:et" {
		t.Errorf("got %+v, %v", ac, err)
	}
	for _, bad := range []string{"%%%", base64.StdEncoding.EncodeToString([]byte("nocolon"))} {
		if _, err := DecodeECRToken(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestECRTokenFromMotoAuthenticatesThePush gets the registry password from
// ecr:GetAuthorizationToken on moto and pushes to a registry that demands
// exactly the credentials moto hands out (user AWS, "<account>-auth-token").
func TestECRTokenFromMotoAuthenticatesThePush(t *testing.T) {
	if testing.Short() {
		t.Skip("needs moto and builds images")
	}
	moto := motoserver.Start(t)
	ctx := context.Background()
	cfg, err := moto.Config(ctx)
	must(t, err)
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	var seen atomic.Int64
	host := startRegistry(t, true, basicAuth("AWS", *id.Account+"-auth-token", &seen))

	kc := &ECRKeychain{Config: cfg, Always: true}
	reg, err := name.NewRegistry(host)
	must(t, err)
	a, err := kc.Resolve(reg)
	must(t, err)
	ac, err := a.Authorization()
	must(t, err)
	if ac.Username != "AWS" || ac.Password != *id.Account+"-auth-token" {
		t.Fatalf("credentials from the ECR token: %+v", ac)
	}

	dir := t.TempDir()
	writeModule(t, dir, map[string]string{"api": `"a"`, "worker": `"w"`, "dlq": `"d"`})
	imgs := build(t, moduleBuild(dir, t.TempDir(), "ffff"))
	res, err := (&Publisher{Keychain: kc}).Publish(ctx, items(imgs[:1], host, "ffff"))
	must(t, err)
	if seen.Load() == 0 || res[0].LayersPushed != res[0].Layers {
		t.Errorf("authenticated requests %d, result %+v", seen.Load(), res[0])
	}

	// A host that is not ECR gets no ECR token (and no anonymous success).
	_, err = (&Publisher{Keychain: &ECRKeychain{Config: cfg}}).Publish(ctx, items(imgs[:1], host, "ffff2"))
	if !errors.Is(err, ErrAuth) {
		t.Errorf("non-ECR host without credentials: %v", err)
	}

}
