package main

import (
	"fmt"
	"io"

	"github.com/liaison-ent/liaison/webpush"
)

// vapidCmd is `liaison vapid generate`: print a new VAPID key pair in the
// form LIAISON_VAPID_PUBLIC_KEY / LIAISON_VAPID_PRIVATE_KEY take. Without
// them, the server generates a pair at its first start and keeps it in the
// store; replacing the keys invalidates every browser subscription.
func vapidCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] != "generate" {
		fmt.Fprintln(stderr, "usage: liaison vapid generate")
		return 2
	}
	pub, priv, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		fmt.Fprintf(stderr, "liaison: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "LIAISON_VAPID_PUBLIC_KEY=%s\nLIAISON_VAPID_PRIVATE_KEY=%s\n", pub, priv)
	return 0
}
