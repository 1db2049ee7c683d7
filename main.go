// Command liaison runs the Liaison service and its administration commands.
//
//	liaison serve                      run the API, workers and scheduler
//	liaison demo                       run on a fresh embedded store with demo data
//	liaison operator create --name N   create an operator account, print its token
//	liaison audit verify               check the audit log's hash chain
//	liaison version                    print the version
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
