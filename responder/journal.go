package responder

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/keyward/keyward/scanner/regfile"
)

// JournalVersion is the journal file's schema version.
const JournalVersion = 1

// maxJournalSize bounds the journal file read back: a run writes a few
// kilobytes; anything much larger is not ours.
const maxJournalSize = 8 << 20

// Facts are what the steps learned, kept in the journal so that a re-run
// can continue even after the key is dead and can no longer be asked.
type Facts struct {
	KeyAccount      string    `json:"key_account,omitempty"`
	ARN             string    `json:"arn,omitempty"`
	UserID          string    `json:"user_id,omitempty"`
	UserName        string    `json:"user_name,omitempty"`
	RoleName        string    `json:"role_name,omitempty"`
	OperatorARN     string    `json:"operator_arn,omitempty"`
	OperatorAccount string    `json:"operator_account,omitempty"`
	UserKeys        []string  `json:"user_keys,omitempty"`
	LastUsed        string    `json:"last_used,omitempty"`
	RevokedBefore   time.Time `json:"revoked_before,omitzero"`
	Roles           []string  `json:"roles_assumed,omitempty"`
	// RolesRevokedBefore is the cutoff of the deny put on Roles, and
	// DenyRemoved when --cleanup removed the denies: the 36 h hold runs
	// from the later cutoff.
	RolesRevokedBefore time.Time `json:"roles_revoked_before,omitzero"`
	DenyRemoved        time.Time `json:"session_deny_removed,omitzero"`
	NewKeyID           string    `json:"new_key_id,omitempty"`
	Trail              *Trail    `json:"cloudtrail,omitempty"`

	// Partition is the key's partition (aws, aws-cn, aws-us-gov).
	Partition string `json:"partition,omitempty"`
	// KeyStatus is the key's IAM status as the owner step last read it:
	// Active, Inactive, absent, or "" when it could not be read.
	KeyStatus string `json:"key_status,omitempty"`
	// KeyInIAM is set when iam:GetAccessKeyLastUsed named the key's user:
	// the key exists, even when its status could not be read.
	KeyInIAM bool `json:"key_in_iam,omitempty"`
	// Gone is set when the key does not work and IAM does not hold it (a
	// long-term key deleted by someone else, an expired or invalid session)
	// while its account is the operator's, or unknown. It was live once:
	// what it made, and the sessions it minted (up to 36 h), may outlive
	// it, so the investigation and the containment of what it made still
	// run, and "nothing to contain" needs a search that found nothing.
	Gone bool `json:"gone,omitempty"`
	// UserPolicies are the managed policies attached to the owner.
	UserPolicies []string `json:"user_policies,omitempty"`
	// Quarantined are the quarantine policies keyward attached;
	// AWSQuarantine one that was attached before keyward acted, likely by
	// AWS, which then has a support case open.
	Quarantined   []string `json:"quarantined,omitempty"`
	AWSQuarantine string   `json:"aws_quarantine,omitempty"`
	// OtherUsersDenied are existing users (besides the owner) whose older
	// sessions were denied after a key the attacker created for them was
	// deactivated, with the cutoff.
	OtherUsersDenied        []string  `json:"other_users_denied,omitempty"`
	OtherUsersRevokedBefore time.Time `json:"other_users_revoked_before,omitzero"`
	// Persistence is what the attacker made or changed, and what became of
	// it; HumanActions what only a human can do.
	Persistence  []PersistenceItem `json:"persistence,omitempty"`
	HumanActions []HumanAction     `json:"human_actions,omitempty"`
	// RecheckAfter is when CloudTrail has delivered what the investigation
	// could not yet see; Rechecked when a re-check last ran.
	RecheckAfter time.Time `json:"recheck_after,omitzero"`
	Rechecked    time.Time `json:"rechecked,omitzero"`
	// KeysBeforeRotate are the user's keys before CreateAccessKey, so a key
	// created by a call whose answer was lost is found; OrphansDeleted are
	// such keys, deleted.
	KeysBeforeRotate []string `json:"keys_before_rotate,omitempty"`
	OrphansDeleted   []string `json:"orphans_deleted,omitempty"`
	// OwnRequestIDs are the request IDs of keyward's own calls: its events
	// in CloudTrail are told apart by them, not by the user agent.
	OwnRequestIDs []string `json:"own_request_ids,omitempty"`
}

// StepStatus is the outcome of one step in one run.
type StepStatus string

// Step outcomes.
const (
	StepDone    StepStatus = "done"
	StepSkipped StepStatus = "skipped"
	StepFailed  StepStatus = "failed"
	// StepStarted is journalled before a step that must not be repeated
	// blindly (rotate): a crash after it leaves a trace.
	StepStarted StepStatus = "started"
)

// Call is one AWS API call a step made.
type Call struct {
	API       string    `json:"api"`
	RequestID string    `json:"request_id,omitempty"`
	At        time.Time `json:"at"`
	Error     string    `json:"error,omitempty"`
	// ServerTime is AWS's clock (the response's Date header).
	ServerTime time.Time `json:"server_time,omitzero"`
}

// StepResult is what one step did.
type StepResult struct {
	ID       StepID     `json:"id"`
	Status   StepStatus `json:"status"`
	Started  time.Time  `json:"started"`
	Finished time.Time  `json:"finished,omitzero"`
	Calls    []Call     `json:"calls,omitempty"`
	Detail   string     `json:"detail,omitempty"`
	Error    string     `json:"error,omitempty"`
	// Resumed marks a step completed by an earlier run and not repeated.
	Resumed bool `json:"resumed,omitempty"`
}

// JournalState is the journal's content.
type JournalState struct {
	Version int          `json:"version"`
	KeyID   string       `json:"key_id"`
	Created time.Time    `json:"created"`
	Updated time.Time    `json:"updated"`
	Facts   Facts        `json:"facts"`
	Steps   []StepResult `json:"steps"`
}

// Journal records completed steps in a file, so that a run interrupted by a
// crash, a throttle or a missing permission continues where it stopped and
// never repeats a destructive step. It holds no secret.
type Journal struct {
	path  string
	State JournalState
}

// ParseJournal decodes a journal file's content and checks it is one.
func ParseJournal(data []byte) (JournalState, error) {
	var st JournalState
	if len(data) > maxJournalSize {
		return st, fmt.Errorf("parse journal: larger than %d bytes", maxJournalSize)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("parse journal: %w", err)
	}
	if st.Version != JournalVersion {
		return st, fmt.Errorf("parse journal: version %d, want %d", st.Version, JournalVersion)
	}
	for _, s := range st.Steps {
		if s.ID == "" {
			return st, errors.New("parse journal: a step has no id")
		}
	}
	return st, nil
}

// OpenJournal reads the journal at path for keyID, or starts an empty one if
// the file does not exist. A journal for another key is an error.
func OpenJournal(path, keyID string) (*Journal, error) {
	j := &Journal{path: path}
	// Bounded and non-blocking: a FIFO or a symlink to /dev/zero in the
	// journal's place is refused, never waited on or read without end.
	data, err := regfile.Read(path, maxJournalSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		now := time.Now().UTC()
		j.State = JournalState{Version: JournalVersion, KeyID: keyID, Created: now, Updated: now}
		return j, nil
	case err != nil:
		return nil, fmt.Errorf("open journal: %w", err)
	}
	st, err := ParseJournal(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.KeyID != keyID {
		return nil, fmt.Errorf("open journal %s: it is for key %s, not %s", path, st.KeyID, keyID)
	}
	j.State = st
	return j, nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Last returns the latest record of step id.
func (j *Journal) Last(id StepID) (StepResult, bool) {
	for i := len(j.State.Steps) - 1; i >= 0; i-- {
		if j.State.Steps[i].ID == id {
			return j.State.Steps[i], true
		}
	}
	return StepResult{}, false
}

// Done reports whether step id completed in an earlier run.
func (j *Journal) Done(id StepID) (StepResult, bool) {
	r, ok := j.Last(id)
	return r, ok && (r.Status == StepDone || r.Status == StepSkipped)
}

// doneBefore reports whether step a was recorded done before the last
// done record of step b.
func (j *Journal) doneBefore(a, b StepID) bool {
	seenA := false
	last := false
	for _, s := range j.State.Steps {
		if s.ID == a && s.Status == StepDone {
			seenA = true
		}
		if s.ID == b && s.Status == StepDone {
			last = seenA
		}
	}
	return last
}

// Record appends a step result and the current facts, and saves.
func (j *Journal) Record(r StepResult, f Facts) error {
	j.State.Steps = append(j.State.Steps, r)
	j.State.Facts = f
	j.State.Updated = time.Now().UTC()
	return j.save()
}

// SaveFacts stores the facts without a step.
func (j *Journal) SaveFacts(f Facts) error {
	j.State.Facts = f
	j.State.Updated = time.Now().UTC()
	return j.save()
}

// save writes the journal atomically: a new 0600 file created with O_EXCL
// beside it, then renamed over, so a crash leaves the old or the new
// journal, never half of one.
func (j *Journal) save() error {
	if j.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(j.State, "", "  ")
	if err != nil {
		return fmt.Errorf("save journal: %w", err)
	}
	return WriteFileAtomic(j.path, append(data, '\n'))
}

// WriteFileAtomic writes data to path with mode 0600 through an exclusive
// temporary file and a rename.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := filepath.Join(dir, "."+filepath.Base(path)+fmt.Sprintf(".%d.tmp", time.Now().UnixNano()))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
