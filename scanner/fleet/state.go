package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// stateVersion is the state file's format; a file of another version is
// refused rather than misread.
const stateVersion = 1

// Repository statuses in the state file and in reports.
const (
	// StatusSwept: the sweep read the whole history.
	StatusSwept = "swept"
	// StatusIncomplete: the sweep ran but some objects could not be read
	// (a corrupt pack); what it found is reported, and it is retried.
	StatusIncomplete = "incomplete"
	// StatusFailed: the repository could not be mirrored or opened.
	StatusFailed = "failed"
	// StatusUnchanged: swept before at the same ref state, with the same
	// rules; its earlier report stands.
	StatusUnchanged = "unchanged"
)

// State is what a sweep remembers between runs: for each repository, the
// ref state it last swept completely, so a re-run sweeps only repositories
// whose refs moved. Each repository is recorded (in a journal beside the
// state file) as soon as it is done, so a crash loses at most the
// repositories being swept at that moment.
type State struct {
	Version int `json:"version"`
	// Config identifies the rules and settings of the sweep; when it
	// changes, every repository is swept again.
	Config string `json:"config"`
	// Repos are keyed by Repo.Key.
	Repos map[string]RepoState `json:"repos"`
}

// RepoState is one repository's last sweep.
type RepoState struct {
	URL    string `json:"url"`
	Status string `json:"status"`
	// Refs is the RefState swept; empty when the sweep failed.
	Refs string `json:"refs,omitempty"`
	// Error is why the repository failed or is incomplete.
	Error    string    `json:"error,omitempty"`
	Findings int       `json:"findings"`
	Report   string    `json:"report,omitempty"`
	SweptAt  time.Time `json:"swept_at"`
	// Sweeps counts the sweeps that ran (unchanged skips do not count).
	Sweeps int `json:"sweeps"`
}

// journalSuffix names a state's journal, beside it: one line per
// repository recorded since the state file was last written whole.
const journalSuffix = ".journal"

// journalEntry is one line of the journal.
type journalEntry struct {
	Config string    `json:"config"`
	Key    string    `json:"key"`
	State  RepoState `json:"state"`
}

// LoadState reads a state file and replays its journal; a missing file is
// an empty state. A journal line cut short by a crash is ignored: its
// repository is swept again.
func LoadState(path string) (*State, error) {
	st, err := loadStateFile(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path + journalSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state journal: %w", err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	for i, line := range lines {
		if !strings.HasSuffix(line, "\n") {
			break // the last line, torn or empty
		}
		var e journalEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return nil, fmt.Errorf("read state journal %s: line %d: %w", path+journalSuffix, i+1, err)
		}
		if e.Config == st.Config && e.Key != "" {
			st.Repos[e.Key] = e.State
		}
	}
	return st, nil
}

func loadStateFile(path string) (*State, error) {
	st := &State{Version: stateVersion, Repos: map[string]RepoState{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("read state %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("read state %s: version %d, want %d", path, st.Version, stateVersion)
	}
	if st.Repos == nil {
		st.Repos = map[string]RepoState{}
	}
	return st, nil
}

// Record sets one repository's state, in memory and as one line appended
// to the journal beside path and synced before it returns, so recording
// costs the same however many repositories the state holds (rewriting the
// whole file after each of 10,000 repositories would write it 10,000
// times). Compact folds the journal into the state file.
func (s *State) Record(path, key string, rs RepoState) error {
	s.Repos[key] = rs
	line, err := json.Marshal(journalEntry{Config: s.Config, Key: key, State: rs})
	if err != nil {
		return fmt.Errorf("record state: %w", err)
	}
	f, err := os.OpenFile(path+journalSuffix, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("record state: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("record state: %w", err)
	}
	return nil
}

// Compact writes the whole state to path (atomically, see Save) and then
// removes the journal, whose lines it now holds.
func (s *State) Compact(path string) error {
	if err := s.Save(path); err != nil {
		return err
	}
	if err := os.Remove(path + journalSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("compact state: %w", err)
	}
	return nil
}

// Save writes the state atomically with mode 0600 (it names private
// repositories): a new file created with O_EXCL, synced, renamed over the
// old one, and the directory synced, so a crash leaves the old state or
// the new one, never half of either.
func (s *State) Save(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return WriteFileAtomic(path, append(data, '\n'))
}

// WriteFileAtomic writes data to path with mode 0600 through a temporary
// file in the same directory and a rename.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	var f *os.File
	var err error
	for i := 0; i < 100; i++ {
		tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d-%d.tmp", filepath.Base(path), os.Getpid(), i))
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600) // whatever the umask
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: not every file system syncs directories
		d.Close()
	}
	return nil
}
