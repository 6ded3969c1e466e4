// Package scanner turns sources (byte slices, files, directories, standard
// input, and in git.go the index, commit ranges and history) into content,
// runs the patterns rule table over it, sees through the encodings secrets
// hide behind, and returns findings with their provenance.
//
// It never prints, exits or logs: a Finding carries its secret in a Secret,
// whose String, GoString and JSON forms are redacted, so that a finding
// formatted by accident cannot leak what it found.
package scanner
