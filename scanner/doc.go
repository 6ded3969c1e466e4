// Package scanner turns sources (byte slices, files, directories, standard
// input and pipes, the git index, commit ranges with the tags they push,
// whole histories with every stash entry and note, and patches) into
// content, reads inside archives (archive.go) and streams what is too
// large to hold (stream.go), runs the patterns rule table over it, sees
// through the encodings secrets hide behind, and returns findings with
// their provenance: a Kind (file, commit or tag message, stash, note,
// blob...) and a path that names an archive member after '!'.
//
// Each source is one type implementing Source in its own file, scanning
// into the services of a Run (source.go); patch.go is the example to copy,
// and Engine.Run runs any source with the project's suppressions. The git
// sources share one layer: one way to find and open a repository
// (repository.go), one pack type for point reads and the history sweep
// (pack.go, objects.go, packforest.go), and one commit walker (walk.go).
//
// It never prints, exits or logs: a Finding carries its secret in a Secret,
// whose String, GoString and JSON forms are redacted, so that a finding
// formatted by accident cannot leak what it found.
package scanner
