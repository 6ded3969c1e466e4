package patterns

// Forge and package-registry tokens: whoever holds one can push code or
// publish a package under the owner's name, which is how one leaked token
// becomes a supply-chain attack. All of these formats carry a fixed,
// documented prefix, which is what makes them high-confidence.
//
// GitHub: https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/
// GitLab: https://docs.gitlab.com/security/tokens/#token-prefixes
// npm:    https://github.blog/2021-09-23-announcing-npms-new-access-token-format/
// PyPI:   https://pypi.org/help/#apitoken (macaroons whose base64 opens with the pypi.org location)
// Docker: https://docs.docker.com/security/for-developers/access-tokens/

var (
	reGitHubPAT     = Lazy(`ghp_[A-Za-z0-9]{36}\b`)
	reGitHubFine    = Lazy(`github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b`)
	reGitHubOAuth   = Lazy(`gho_[A-Za-z0-9]{36}\b`)
	reGitHubApp     = Lazy(`gh[su]_[A-Za-z0-9]{36}\b`)
	reGitHubRefresh = Lazy(`ghr_[A-Za-z0-9]{36,76}\b`)
	// Classic personal access tokens are 20 characters; GitLab 17's
	// routable tokens are longer and end ".01.<base36>".
	reGitLabPAT   = Lazy(`glpat-[A-Za-z0-9_-]{20,}(?:\.[0-9a-z]{2}\.[0-9a-z]{7,9})?`)
	reGitLabToken = Lazy(`gl(?:dt|rt|ptt|oas|cbt|ft)-[A-Za-z0-9_-]{20,}`)
	reNPMToken    = Lazy(`npm_[A-Za-z0-9]{36}\b`)
	reDockerPAT   = Lazy(`dckr_pat_[A-Za-z0-9_-]{27,}`)
	// "AgEIcHlwaS5vcmc" is the base64 of the macaroon's opening: version 2,
	// then the location "pypi.org".
	rePyPIToken = Lazy(`pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}`)
)

func forgeRules() []Rule {
	// gh builds a rule for one of GitHub's four-character prefixes.
	gh := func(id, desc string, re *Pattern, tmpl string, prefixes ...string) Rule {
		prefix := prefixes[0]
		return Rule{
			ID: id, Description: desc, Keywords: prefixes,
			Matcher: MatchRegexp, Regexp: re, MinEntropy: TokenEntropyFloor,
			Allow: Allowlist{Placeholder: tokenPlaceholder(len(prefix))},
			Samples: Samples{
				True: []string{
					"GITHUB_TOKEN=" + tmpl + "\n",
					`git clone https://x-access-token:` + tmpl + `@github.com/o/r.git`,
					`{"token": "` + tmpl + `"}`,
				},
				False: []string{
					"GITHUB_TOKEN=" + prefix + repeat("x", 36),
					"GITHUB_TOKEN=" + prefix + "1234567890abcdefghijABCDEFGHIJ123456",
					"GITHUB_TOKEN=" + prefix + "<your-token>",
					"token: " + tmpl + "_v2",
				},
			},
		}
	}
	return []Rule{
		gh(RuleGitHubPAT, "GitHub personal access token, classic (ghp_)", reGitHubPAT, "{{GITHUB_PAT}}", "ghp_"),
		{
			ID:          RuleGitHubFineGrained,
			Description: "GitHub fine-grained personal access token (github_pat_)",
			Keywords:    []string{"github_pat_"},
			Matcher:     MatchRegexp,
			Regexp:      reGitHubFine,
			MinEntropy:  TokenEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("github_pat_"))},
			Samples: Samples{
				True: []string{
					"export GH_TOKEN={{GITHUB_FINE_PAT}}\n",
					"password: '{{GITHUB_FINE_PAT}}'",
				},
				False: []string{
					"GH_TOKEN=github_pat_" + repeat("A", 22) + "_" + repeat("B", 59),
					"GH_TOKEN=github_pat_<token>",
					"GH_TOKEN={{GITHUB_FINE_PAT}}0",
				},
			},
		},
		gh(RuleGitHubOAuth, "GitHub OAuth app access token (gho_)", reGitHubOAuth, "{{GITHUB_OAUTH}}", "gho_"),
		gh(RuleGitHubApp, "GitHub App user-to-server or installation token (ghu_, ghs_)", reGitHubApp, "{{GITHUB_APP}}", "ghs_", "ghu_"),
		gh(RuleGitHubRefresh, "GitHub App refresh token (ghr_)", reGitHubRefresh, "{{GITHUB_REFRESH}}", "ghr_"),
		{
			ID:          RuleGitLabPAT,
			Description: "GitLab personal, project or group access token (glpat-)",
			Keywords:    []string{"glpat-"},
			Matcher:     MatchRegexp,
			Regexp:      reGitLabPAT,
			MinEntropy:  HexEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("glpat-"))},
			Samples: Samples{
				True: []string{
					"GITLAB_TOKEN={{GITLAB_PAT}}\n",
					`curl --header "PRIVATE-TOKEN: {{GITLAB_PAT}}" https://gitlab.example.com/api/v4/projects`,
					"token = \"{{GITLAB_PAT_ROUTABLE}}\"\n",
				},
				False: []string{
					"GITLAB_TOKEN=glpat-xxxxxxxxxxxxxxxxxxxx",
					"GITLAB_TOKEN=glpat-<your_access_token>",
					"GITLAB_TOKEN=glpat-1234567890abcdefghij",
					"see the glpat- prefix in the docs",
				},
			},
		},
		{
			ID:          RuleGitLabToken,
			Description: "GitLab deploy, runner, pipeline-trigger, OAuth-secret, CI-job or feed token (gldt-, glrt-, glptt-, gloas-, glcbt-, glft-)",
			Keywords:    []string{"gldt-", "glrt-", "glptt-", "gloas-", "glcbt-", "glft-"},
			Matcher:     MatchRegexp,
			Regexp:      reGitLabToken,
			MinEntropy:  HexEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("glrt-"))},
			Samples: Samples{
				True: []string{
					"CI_DEPLOY_TOKEN={{GITLAB_DEPLOY}}\n",
					"  token: {{GITLAB_RUNNER}}\n",
					"curl -F token={{GITLAB_TRIGGER}} -F ref=main",
				},
				False: []string{
					"token: glrt-xxxxxxxxxxxxxxxxxxxx",
					"token: glrt-<runner-token>",
					"glptt-0000000000000000000000000000000000000000",
				},
			},
		},
		{
			ID:          RuleNPMToken,
			Description: "npm access token (npm_)",
			Keywords:    []string{"npm_"},
			Matcher:     MatchRegexp,
			Regexp:      reNPMToken,
			MinEntropy:  TokenEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("npm_"))},
			Samples: Samples{
				True: []string{
					"//registry.npmjs.org/:_authToken={{NPM_TOKEN}}\n",
					"NPM_TOKEN={{NPM_TOKEN}}\n",
				},
				False: []string{
					"//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
					"//registry.npmjs.org/:_authToken=npm_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
					"const npm_package_version_major_minor_patch_x = 1",
				},
			},
		},
		{
			ID:          RulePyPIToken,
			Description: "PyPI API token (pypi-AgEIcHlwaS5vcmc...)",
			Keywords:    []string{"pypi-AgEIcHlwaS5vcmc"},
			Matcher:     MatchRegexp,
			Regexp:      rePyPIToken,
			MinEntropy:  TokenEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("pypi-AgEIcHlwaS5vcmc"))},
			Samples: Samples{
				True: []string{
					"[pypi]\nusername = __token__\npassword = {{PYPI_TOKEN}}\n",
					"TWINE_PASSWORD={{PYPI_TOKEN}}\n",
				},
				False: []string{
					"password = pypi-AgEIcHlwaS5vcmc...",
					"password = pypi-AgEIcHlwaS5vcmc" + repeat("A", 60),
				},
			},
		},
		{
			ID:          RuleDockerHubPAT,
			Description: "Docker Hub personal access token (dckr_pat_)",
			Keywords:    []string{"dckr_pat_"},
			Matcher:     MatchRegexp,
			Regexp:      reDockerPAT,
			MinEntropy:  TokenEntropyFloor,
			Allow:       Allowlist{Placeholder: tokenPlaceholder(len("dckr_pat_"))},
			Samples: Samples{
				True: []string{
					"echo {{DOCKER_PAT}} | docker login -u me --password-stdin\n",
					"DOCKERHUB_TOKEN: {{DOCKER_PAT}}\n",
				},
				False: []string{
					"DOCKERHUB_TOKEN: dckr_pat_xxxxxxxxxxxxxxxxxxxxxxxxxxx",
					"DOCKERHUB_TOKEN: dckr_pat_<token>",
				},
			},
		},
	}
}
