// Command pulumi-resource-random is a minimal stand-in for the pulumi-random resource provider
// plugin: it implements only random:index/randomPassword:RandomPassword and
// random:index/randomString:RandomString, with the same type tokens and property names as
// pulumi-random 4.21.4. See README.md for why it exists and what it does not do.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is reported by GetPluginInfo and GetSchema. Set it at build time to the pulumi-random
// SDK version the program pins: -ldflags "-X main.version=4.21.4".
var version = "4.21.4"

func main() {
	err := provider.Main(providerName, func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return newRandomProvider(version), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
