// Package proto holds the gRPC API definitions of the services. The generated
// code lives in the versioned sub-packages and is committed; rerun with
// `go generate ./services/proto` (needs protoc, protoc-gen-go and
// protoc-gen-go-grpc on PATH; see the Makefile's proto target).
package proto

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative taskv1/task.proto
