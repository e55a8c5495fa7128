"""The commented default `.companion.toml` that `companion init` writes: every key, documented."""

DEFAULT_RULES_FILE = '''\
# .companion.toml: what the companion watches for and when it may speak.
# This file is merged over your user file (~/.config/companion/rules.toml) and reloaded
# within a second of saving. Check it with: companion rules check
# Durations are written "90s", "15m", "2h" or "1h30m". Globs are relative to the repository
# root, gitignore style: "src/**/*.py". Every key below shows its default.

# Natural-language rules go to the model as they are. Add as many [[rule]] tables as you like.
[[rule]]
name = "off-by-one"                         # required; replaces a user-file rule of this name
text = "Interrupt me when I write an off-by-one error in a loop or a slice."   # required
paths = ["**/*.py"]                         # optional: only while these files change
severity = "warning"                        # info | warning | error
# cooldown = "5m"                           # optional: overrides [gates] cooldown for this rule

[[rule]]
name = "tests I touched"
text = "Tell me when the tests I touched start failing, in one sentence."
severity = "error"

# What the background agent runs when a matching file is saved. Add one table per group of paths.
[[on_save]]
paths = ["**/*.py"]                         # required
tests = "affected"                          # affected | all | none
lint = ["ruff"]                             # tools: ruff, mypy

# Gates: your preferences, enforced by the companion on what may be said. Turn-taking is the
# model's job; the two turn-taking rules below (never_while_user_speaks, max_per_10min) are off
# unless you turn them on.
[gates]
never_while_user_speaks = false             # true: hold an utterance while your words are < 0.8 s old
quiet_hours = []                            # e.g. "22:00-07:00" or ["12:00-13:00", "22:00-07:00"]
snooze = "15m"                              # how long the snooze key holds interjections
cooldown = "2m"                             # minimum time between two interjections of one rule
min_severity = "info"                       # info | warning | error: quieter rules are not said
# max_per_10min = 6                         # at most this many interjections in any 10 minutes

[tests]
command = "pytest"                          # e.g. "cargo test", "npm test"
timeout = "5m"

[screen]
fps = 2.0                                   # frames per second, more than 0 and at most 30
monitor = 1                                 # 0: all monitors, 1: the first, 2: the second ...
# region = [0, 0, 1920, 1080]               # x, y, width, height: watch only this part
exclude_regions = []                        # e.g. [[0, 0, 400, 1080]]: blanked at capture
exclude_windows = []                        # window titles never watched, e.g. ["1Password"]
read = "errors"                             # OCR: "errors" (errors + file/function), "all", "off"

[voice]
voice = "en"                                # espeak-ng voice name
rate = 175                                  # words per minute, 60 to 500
mute = false                                # true: the companion writes but does not speak

[model]
server = "embedded"                         # "embedded" or a URL such as "http://gpu-box:30000"
name = ""                                   # "": the server's default model

[ui]
theme = "companion-dark"                    # companion-dark | companion-light | companion-contrast,
                                            # a Textual theme, or yours in <config>/themes/

[reasoning]                                 # "why does it fail?" answered by a bigger model
enabled = false                             # true: the explain tool and the card's "why" key work
endpoint = ""                               # OpenAI-compatible base URL: "http://gpu-box:30000/v1"
                                            # (companion serve, SGLang, vLLM, Ollama, llama.cpp)
model = ""                                  # the model name the endpoint serves
api_key_env = ""                            # environment variable with the API key ("": none)
timeout = "60s"                             # the whole answer must arrive within this
'''
