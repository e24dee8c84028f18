package iamcatalog

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// FetchServiceReference reads AWS's service reference index at root and
// every service document it lists.
func FetchServiceReference(client *http.Client, root, date string) (File, error) {
	f := File{Source: "AWS service reference " + root, Date: date, Actions: map[string]map[string]Entry{}}
	var index []IndexEntry
	if err := getJSON(client, root, &index); err != nil {
		return File{}, err
	}
	if len(index) == 0 {
		return File{}, fmt.Errorf("service reference index %s lists no services", root)
	}
	for _, e := range index {
		resp, err := client.Get(e.URL)
		if err != nil {
			return File{}, fmt.Errorf("fetching %s: %w", e.URL, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return File{}, fmt.Errorf("fetching %s: HTTP %s", e.URL, resp.Status)
		}
		err = AddServiceReference(&f, resp.Body)
		resp.Body.Close()
		if err != nil {
			return File{}, fmt.Errorf("%s: %w", e.URL, err)
		}
	}
	return f, nil
}

func getJSON(client *http.Client, url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching %s: HTTP %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("decoding %s: %w", url, err)
	}
	return nil
}
