package iamcatalog

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// FromCfnLint converts cfn-lint's data/AdditionalSpecs/Policies.json (a
// map prefix -> {Actions: {lower-case name: {Resources: [...]}}}) into a
// File. It has no access levels.
func FromCfnLint(r io.Reader, date string) (File, error) {
	var in map[string]struct {
		Actions map[string]struct {
			Resources []string `json:"Resources"`
		} `json:"Actions"`
	}
	if err := json.NewDecoder(r).Decode(&in); err != nil {
		return File{}, fmt.Errorf("reading cfn-lint Policies.json: %w", err)
	}
	f := File{Source: "cfn-lint data/AdditionalSpecs/Policies.json (MIT-0)", Date: date, Actions: map[string]map[string]Entry{}}
	for pfx, svc := range in {
		m := map[string]Entry{}
		for name, a := range svc.Actions {
			m[strings.ToLower(name)] = Entry{Resources: normResources(a.Resources)}
		}
		f.Actions[strings.ToLower(pfx)] = m
	}
	return f, nil
}

// ServiceReference is one service document of AWS's service reference
// (https://servicereference.us-east-1.amazonaws.com/v1/<service>/<service>.json),
// reduced to the fields the catalogue keeps.
type ServiceReference struct {
	Name    string `json:"Name"`
	Actions []struct {
		Name        string `json:"Name"`
		Annotations struct {
			Properties struct {
				IsList                 bool `json:"IsList"`
				IsPermissionManagement bool `json:"IsPermissionManagement"`
				IsTaggingOnly          bool `json:"IsTaggingOnly"`
				IsWrite                bool `json:"IsWrite"`
			} `json:"Properties"`
		} `json:"Annotations"`
		Resources []struct {
			Name string `json:"Name"`
		} `json:"Resources"`
	} `json:"Actions"`
}

// IndexEntry is one row of the service reference index (the root URL).
type IndexEntry struct {
	Service string `json:"service"`
	URL     string `json:"url"`
}

// AddServiceReference merges one service document into f.
func AddServiceReference(f *File, r io.Reader) error {
	var doc ServiceReference
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return fmt.Errorf("reading service reference document: %w", err)
	}
	if doc.Name == "" {
		return fmt.Errorf("service reference document has no Name")
	}
	if f.Actions == nil {
		f.Actions = map[string]map[string]Entry{}
	}
	m := map[string]Entry{}
	for _, a := range doc.Actions {
		var res []string
		for _, r := range a.Resources {
			res = append(res, r.Name)
		}
		p := a.Annotations.Properties
		access := "Read"
		switch {
		case p.IsPermissionManagement:
			access = "Permissions management"
		case p.IsTaggingOnly:
			access = "Tagging"
		case p.IsWrite:
			access = "Write"
		case p.IsList:
			access = "List"
		}
		m[strings.ToLower(a.Name)] = Entry{Resources: normResources(res), Access: access}
	}
	f.Actions[strings.ToLower(doc.Name)] = m
	return nil
}

func normResources(in []string) []string {
	var out []string
	for _, r := range in {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, strings.ToLower(r))
		}
	}
	sort.Strings(out)
	return out
}
