// Package systemtest runs the built api, worker and dlq binaries as real
// processes against moto and checks the behaviour the deployment design
// relies on: processing to SUCCEEDED, poison tasks to DEAD, and graceful
// SIGTERM handling in the api and the worker. It has only tests.
package systemtest
