// Package patterns is keyward's rule table and the offline facts it needs
// about AWS credentials: key-ID prefixes and what they mean, the account ID
// encoded in a key ID, known canary-token accounts, and AWS's documented
// example keys.
//
// The package does no I/O. The scanner package runs these rules over content;
// every rule carries true- and false-positive samples that the scanner's
// table test checks, so a rule cannot silently stop matching what it claims.
package patterns
