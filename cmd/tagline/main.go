package main

import (
	"os"

	"github.com/tagline-station/tagline/cmd"
)

func main() { os.Exit(cmd.Execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
