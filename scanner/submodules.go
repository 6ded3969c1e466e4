package scanner

import (
	"bytes"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5"
)

// maxGitmodulesSize bounds the .gitmodules read to count submodules.
const maxGitmodulesSize = 1 << 20

// submoduleWarning says, when HEAD's tree declares submodules, that their
// histories live in other repositories and were not swept: a gitlink names
// a commit of another repository, which this one does not hold (issue 10:
// nothing said so). It returns "" when there are none or HEAD cannot be
// read (an empty repository).
func submoduleWarning(repo *git.Repository, what string) string {
	head, err := repo.Head()
	if err != nil {
		return ""
	}
	c, err := repo.CommitObject(head.Hash())
	if err != nil {
		return ""
	}
	tree, err := c.Tree()
	if err != nil {
		return ""
	}
	f, err := tree.File(".gitmodules")
	if err != nil {
		return ""
	}
	r, err := f.Reader()
	if err != nil {
		return ""
	}
	defer r.Close()
	data, _ := io.ReadAll(io.LimitReader(r, maxGitmodulesSize))
	n := bytes.Count(data, []byte("[submodule "))
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("this repository has %d submodule(s) (.gitmodules); %s do not enter them: scan each submodule's repository on its own", n, what)
}
