package rollout

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/conveyor-dev/conveyor/actions/internal/rollout/plan"
	"github.com/conveyor-dev/conveyor/internal/ecsstandin"
	st "github.com/conveyor-dev/conveyor/internal/ecsstandin/standintest"
)

func TestWatchDescribesTwelveServicesTenAtATime(t *testing.T) {
	w := st.NewWorld(t, ecsstandin.Scenario{})
	names, images := settledServices(w, 12)
	before := w.S.Stats().Calls["DescribeServices"]
	o := Options{Cluster: "conveyor", Services: names, Poll: 20 * time.Millisecond, Timeout: 20 * time.Second}
	res, watcher, err := Deploy(w.Ctx, w.API, o, images, "sha", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Verdict != Succeeded {
			t.Errorf("%s: %s %s", r.Service, r.Verdict, r.Reason)
		}
	}
	// Two calls to describe twelve services before deploying, then at most
	// two a round (services that have a verdict drop out).
	calls := w.S.Stats().Calls["DescribeServices"] - before
	if calls > 2+2*watcher.Rounds || calls < watcher.Rounds {
		t.Errorf("%d DescribeServices calls for %d rounds of 12 services: want ten per call", calls, watcher.Rounds)
	}
}

func TestWatchDescribesTwentyOneServiceDeploymentsTwentyAtATime(t *testing.T) {
	// DescribeServiceDeployments and DescribeServiceRevisions take 20
	// ARNs, DescribeServices 10: 21 services need every batch split.
	w := st.NewWorld(t, ecsstandin.Scenario{})
	names, images := settledServices(w, 21)
	o := Options{Cluster: "conveyor", Services: names, Poll: 20 * time.Millisecond, Timeout: 30 * time.Second}
	res, _, err := Deploy(w.Ctx, w.API, o, images, "sha", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Verdict != Succeeded {
			t.Errorf("%s: %s %s", r.Service, r.Verdict, r.Reason)
		}
	}
}

// settledServices creates n one-task services whose first deployment
// COMPLETED, and the image map that moves each to a new digest (the
// container is named after its service).
func settledServices(w *st.World, n int) ([]string, map[string]plan.Image) {
	var names []string
	images := map[string]plan.Image{}
	for i := range n {
		name := fmt.Sprintf("svc-%02d", i)
		w.Service(name, st.Repo+"svc@"+st.Dig("1111"), st.Svc{Breaker: true, Desired: 1})
		names = append(names, name)
		images[name] = plan.Image{Repository: st.Repo + "svc", Digest: st.Dig("2222")}
	}
	for _, name := range names {
		w.Settle(name, types.DeploymentRolloutStateCompleted)
	}
	return names, images
}
