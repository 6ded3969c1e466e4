package fleet

import (
	"fmt"
	"hash/fnv"
)

// MaxShards bounds --shards: beyond this each shard is a handful of
// repositories and the merge step, not the sweep, dominates.
const MaxShards = 10000

// ShardOf is the shard (0 to n-1) that a repository belongs to: FNV-1a of
// its normalised key, modulo n. Hashing rather than position in the list
// means a repository stays in its shard when others are added to or
// removed from the list, so each shard's state file and mirror cache stay
// warm across runs; the cost is shards of somewhat uneven size.
func ShardOf(r Repo, n int) int {
	h := fnv.New64a()
	h.Write([]byte(r.Key))
	return int(h.Sum64() % uint64(n))
}

// Shard returns the repositories of shard i of n, in list order. Every
// repository is in exactly one of the n shards.
func Shard(repos []Repo, n, i int) ([]Repo, error) {
	if n < 1 || n > MaxShards {
		return nil, fmt.Errorf("shard count %d: want 1 to %d", n, MaxShards)
	}
	if i < 0 || i >= n {
		return nil, fmt.Errorf("shard index %d: want 0 to %d", i, n-1)
	}
	var out []Repo
	for _, r := range repos {
		if ShardOf(r, n) == i {
			out = append(out, r)
		}
	}
	return out, nil
}
