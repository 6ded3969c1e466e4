package responder

import (
	"fmt"
	"strings"
)

// Partitions keyward knows. A key of one partition answers
// InvalidClientTokenId on another partition's STS, so validating a
// GovCloud or China key against the commercial endpoint would call it
// dead (issue 8, item 6).
const (
	PartitionAWS   = "aws"
	PartitionChina = "aws-cn"
	PartitionGov   = "aws-us-gov"
)

// Partitions are the known partitions, commercial first.
var Partitions = []string{PartitionAWS, PartitionGov, PartitionChina}

// partitionRegion is the region whose STS endpoint validates a key of a
// partition.
var partitionRegion = map[string]string{
	PartitionAWS:   "us-east-1",
	PartitionChina: "cn-north-1",
	PartitionGov:   "us-gov-west-1",
}

// PartitionRegion is the region the leaked key's STS client signs for in
// partition p.
func PartitionRegion(p string) string {
	if r, ok := partitionRegion[p]; ok {
		return r
	}
	return DefaultRegion
}

// CheckPartition validates a --partition value.
func CheckPartition(p string) error {
	if _, ok := partitionRegion[p]; !ok {
		return fmt.Errorf("unknown partition %q (want aws, aws-cn or aws-us-gov)", p)
	}
	return nil
}

// partitionOfRegion guesses the partition of a region name.
func partitionOfRegion(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return PartitionChina
	case strings.HasPrefix(region, "us-gov-"):
		return PartitionGov
	}
	return PartitionAWS
}

// partitionOfARN is the partition field of an ARN, or "".
func partitionOfARN(arn string) string {
	parts := strings.SplitN(arn, ":", 3)
	if len(parts) < 3 || parts[0] != "arn" {
		return ""
	}
	return parts[1]
}

// partition is the partition the facts point at: the operator's ARN, else
// the commercial partition.
func (f Facts) partition() string {
	if f.Partition != "" {
		return f.Partition
	}
	return PartitionAWS
}

func userARN(partition, acct, name string) string {
	return "arn:" + partition + ":iam::" + acct + ":user/" + name
}

func roleARN(partition, acct, name string) string {
	return "arn:" + partition + ":iam::" + acct + ":role/" + name
}

// QuarantineVersions are AWS's compromised-key quarantine policies, newest
// first: V4 exists since 2026-11. The quarantine step tries them in order
// and falls back when a partition (or an emulator) lacks the newest.
var QuarantineVersions = []string{"V4", "V3", "V2"}

// QuarantinePolicyPrefix starts the name of every version of AWS's
// quarantine policy; a policy so named that keyward did not attach was
// attached by AWS (or a human).
const QuarantinePolicyPrefix = "AWSCompromisedKeyQuarantine"

// QuarantineARN is the ARN of quarantine policy version v in partition p.
func QuarantineARN(p, v string) string {
	return "arn:" + p + ":iam::aws:policy/" + QuarantinePolicyPrefix + v
}

func isQuarantineARN(arn string) bool {
	return strings.Contains(arn, ":policy/"+QuarantinePolicyPrefix)
}
