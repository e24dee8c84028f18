// Command worker is a stand-in service for the image builder's tests: it answers
// --version with the stamped revision, like the real services.
package main

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sync/errgroup"
)

var revision = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println(revision)
		return
	}
	g, _ := errgroup.WithContext(context.Background())
	g.Go(func() error { fmt.Println("worker running"); return nil })
	_ = g.Wait()
}
