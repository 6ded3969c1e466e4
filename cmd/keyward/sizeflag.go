package main

import (
	"fmt"
	"strconv"
	"strings"
)

// sizeFlag is a byte count written with an optional K, M or G suffix
// (powers of 1024; "MB" and "MiB" are accepted alike, as people write both).
type sizeFlag int64

func (s *sizeFlag) String() string { return humanBytes(int64(*s)) }

func (s *sizeFlag) Type() string { return "size" }

func (s *sizeFlag) Set(v string) error {
	t := strings.ToUpper(strings.TrimSpace(v))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1<<10, t[:n-1]
		case 'M':
			mult, t = 1<<20, t[:n-1]
		case 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return fmt.Errorf("invalid size %q (want e.g. 500K, 100M, 1G)", v)
	}
	*s = sizeFlag(n * mult)
	return nil
}
