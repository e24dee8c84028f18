package ecsstandin

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

const (
	region  = "us-east-1"
	account = "123456789012"
)

// world is the stand-in's whole state, behind one lock.
type world struct {
	mu          sync.Mutex
	clock       *Clock
	launcher    Launcher
	scen        Scenario
	start       time.Time   // the clock's starting time: rule and throttle windows count from it
	ruleUses    map[int]int // tasks launched per rule index, for Rule.MaxTasks
	clusters    map[string]*cluster
	taskDefs    map[string]*taskDef // by ARN
	families    map[string][]*taskDef
	deployments map[string]*deployment
	sdeps       map[string]*serviceDeployment // by ARN
	revisions   map[string]*serviceRevision   // by ARN
	seq         uint64
	idBase      uint64
	lastTick    time.Time
	calls       map[string]int
	throttled   int
	bucket      *bucket
}

type taskDef struct {
	arn, family  string
	revision     int
	status       string
	body         map[string]any
	tags         []tag
	registeredAt time.Time
}

type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (td *taskDef) containers() []ContainerSpec {
	var out []ContainerSpec
	defs, _ := td.body["containerDefinitions"].([]any)
	for _, d := range defs {
		m, _ := d.(map[string]any)
		c := ContainerSpec{Essential: true}
		c.Name, _ = m["name"].(string)
		c.Image, _ = m["image"].(string)
		if e, ok := m["essential"].(bool); ok {
			c.Essential = e
		}
		out = append(out, c)
	}
	return out
}

func (w *world) scenario() Scenario { return w.scen }

// advance runs the scheduler in one-second ticks up to now.
func (w *world) advance(now time.Time) {
	if w.lastTick.IsZero() {
		w.lastTick = now
		return
	}
	for t := w.lastTick.Add(time.Second); !t.After(now); t = t.Add(time.Second) {
		for _, c := range w.sortedClusters() {
			for _, s := range sortedServices(c) {
				w.tick(s, t)
			}
			w.gc(c, t)
		}
		w.lastTick = t
	}
}

func (w *world) sortedClusters() []*cluster {
	out := make([]*cluster, 0, len(w.clusters))
	for _, c := range w.clusters {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func sortedServices(c *cluster) []*service {
	out := make([]*service, 0, len(c.services))
	for _, s := range c.services {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func lastSegment(s string) string {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

// cluster finds a cluster by name or ARN; "" is "default", as in ECS.
func (w *world) cluster(ref string) (*cluster, error) {
	if ref == "" {
		ref = "default"
	}
	c := w.clusters[lastSegment(ref)]
	if c == nil {
		return nil, apiError{"ClusterNotFoundException", fmt.Sprintf("Cluster not found: %s.", ref)}
	}
	return c, nil
}

// taskDef resolves "family", "family:revision" or an ARN. A bare family is
// its latest ACTIVE revision.
func (w *world) taskDef(ref string) (*taskDef, error) {
	if td := w.taskDefs[ref]; td != nil {
		return td, nil
	}
	name := lastSegment(ref)
	if strings.Contains(name, ":") {
		for _, td := range w.taskDefs {
			if td.family+":"+fmt.Sprint(td.revision) == name {
				return td, nil
			}
		}
	} else {
		revs := w.families[name]
		for i := len(revs) - 1; i >= 0; i-- {
			if revs[i].status == "ACTIVE" {
				return revs[i], nil
			}
		}
	}
	return nil, apiError{"ClientException", fmt.Sprintf("Unable to describe task definition %s: it does not exist.", ref)}
}
