package main

import (
	"os"
	"path/filepath"
	"regexp"

	"github.com/keyward/keyward/hooks"
)

// frameworkConfig is the pre-commit framework's configuration file, at
// the root of the working tree.
const frameworkConfig = ".pre-commit-config.yaml"

// frameworkIDs maps each hook keyward checks to the id of the matching
// hook in keyward's .pre-commit-hooks.yaml.
var frameworkIDs = map[string]string{
	hooks.PreCommit: "keyward",
	hooks.CommitMsg: "keyward-commit-msg",
	hooks.PrePush:   "keyward-pre-push",
}

// frameworkRunsKeyward reports whether the pre-commit framework's config
// in the working tree lists keyward's hook for git hook name. It reads the
// YAML as text: an "id: <keyward id>" line is what the framework matches
// too, and keyward needs no YAML parser for it.
func frameworkRunsKeyward(name string) bool {
	wd, err := os.Getwd()
	if err != nil {
		return false
	}
	root, ok := repoRoot(wd)
	if !ok {
		return false
	}
	data, err := os.ReadFile(filepath.Join(root, frameworkConfig))
	if err != nil {
		return false
	}
	re := regexp.MustCompile(`(?m)^\s*-?\s*id:\s*["']?` + regexp.QuoteMeta(frameworkIDs[name]) + `["']?\s*(#.*)?$`)
	return re.Match(data)
}
