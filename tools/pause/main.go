// pause is the sandbox ("infra") container of the local cluster's pods: it holds the pod's
// namespaces, reaps orphaned children, and exits on SIGINT or SIGTERM. It stands in for
// registry.k8s.io/pause, which no registry reachable from this project's build machines serves.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
