package scanner

import "github.com/keyward/keyward/scanner/regfile"

// ErrNotRegular is returned by ReadRegularFile for a FIFO, device, socket
// or directory (regfile.ErrNotRegular).
var ErrNotRegular = regfile.ErrNotRegular

// ErrFileTooLarge is returned by ReadRegularFile for a file over its limit
// (regfile.ErrTooLarge).
var ErrFileTooLarge = regfile.ErrTooLarge

// ReadRegularFile reads a regular file of at most limit bytes without
// blocking on a FIFO (regfile.Read, shared with the responder).
func ReadRegularFile(path string, limit int64) ([]byte, error) {
	return regfile.Read(path, limit)
}
