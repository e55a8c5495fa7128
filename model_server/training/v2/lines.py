"""What the simulated developer says or types, by kind, with the tool call each request means.

Every request's arguments are exactly what tools/registry validates (a test checks each against
`tools.catalog.default_registry()`); spoken requests avoid file names a recognizer cannot spell.
"""

from __future__ import annotations

NUMBERS = {2: "two", 3: "three", 5: "five", 10: "ten"}

# (text, tool, args): spoken and typed alike
REQUESTS: tuple[tuple[str, str, dict], ...] = (
    ("run the tests", "tests", {"scope": "all"}),
    ("can you run the tests please", "tests", {"scope": "all"}),
    ("run all the tests", "tests", {"scope": "all"}),
    ("run the whole test suite", "tests", {"scope": "all"}),
    ("could you run the tests for me", "tests", {"scope": "all"}),
    ("let's run the tests again", "tests", {"scope": "all"}),
    ("kick off the tests", "tests", {"scope": "all"}),
    ("run the tests for this file", "tests", {"scope": "affected"}),
    ("test this", "tests", {"scope": "affected"}),
    ("test what I just changed", "tests", {"scope": "affected"}),
    ("run the affected tests", "tests", {"scope": "affected"}),
    ("run the linter", "lint", {}),
    ("lint this please", "lint", {}),
    ("can you lint the code", "lint", {}),
    ("check the code style", "lint", {}),
    ("run ruff on it", "lint", {}),
    ("what's the git status", "git_status", {}),
    ("what have I changed", "git_status", {}),
    ("which files are modified", "git_status", {}),
    ("give me the status", "git_status", {}),
    ("show me the diff", "git_diff", {}),
    ("what does the diff look like", "git_diff", {}),
    ("show me what changed in the code", "git_diff", {}),
    ("show me the staged changes", "git_diff", {"staged": True}),
    ("what have I staged", "git_diff", {"staged": True}),
    ("show me the log", "git_log", {}),
    ("what are the recent commits", "git_log", {}),
    ("show the commit history", "git_log", {}),
    ("show the last commit", "git_show", {}),
    ("what was in the last commit", "git_show", {}),
    ("what branch am I on", "git_branches", {}),
    ("list the branches", "git_branches", {}),
    ("which branches do we have", "git_branches", {}),
    ("show the stash", "git_stash_list", {}),
    ("what's in the stash", "git_stash_list", {}),
    ("stash my changes", "git_stash_push", {}),
    ("put these changes aside", "git_stash_push", {}),
    ("pop the stash", "git_stash_pop", {}),
    ("bring back my stashed changes", "git_stash_pop", {}),
    ("switch to main", "git_switch", {"name": "main"}),
    ("go back to the main branch", "git_switch", {"name": "main"}),
    ("create a branch called cleanup", "git_branch_create", {"name": "cleanup"}),
    ("make a new branch named cleanup", "git_branch_create", {"name": "cleanup"}),
    ("commit this with message fix the loop", "git_commit", {"message": "fix the loop"}),
    ("commit everything with message add tests", "git_commit", {"message": "add tests"}),
    ("commit it and call it fix the loop", "git_commit", {"message": "fix the loop"}),
) + tuple((f"show me the last {word} commits", "git_log", {"n": n}) for n, word in NUMBERS.items()) \
  + tuple((f"what were the last {word} commits", "git_log", {"n": n}) for n, word in NUMBERS.items())


# More ways to ask for the same calls: other verbs and nouns ("git" before the noun, "check",
# "give me"), so the call is learned from the words that name it rather than from one fixed line.
# (text, tool, args, imperative): an imperative takes a polite lead ("can you ...").
REQUEST_CORES: tuple[tuple[str, str, dict, bool], ...] = (
    ("run the test suite", "tests", {"scope": "all"}, True),
    ("run pytest", "tests", {"scope": "all"}, True),
    ("run the unit tests", "tests", {"scope": "all"}, True),
    ("start the tests", "tests", {"scope": "all"}, True),
    ("rerun the tests", "tests", {"scope": "all"}, True),
    ("lint the project", "lint", {}, True),
    ("lint the code", "lint", {}, True),
    ("run the lint check", "lint", {}, True),
    ("check for lint errors", "lint", {}, True),
    ("run the style checker", "lint", {}, True),
    ("do a lint pass", "lint", {}, True),
    ("check the git status", "git_status", {}, True),
    ("show me the status of the repo", "git_status", {}, True),
    ("what does git status say", "git_status", {}, False),
    ("what's the status of my changes", "git_status", {}, False),
    ("which files did I touch", "git_status", {}, False),
    ("show the diff", "git_diff", {}, True),
    ("give me the git diff", "git_diff", {}, True),
    ("diff my changes", "git_diff", {}, True),
    ("what's in the diff", "git_diff", {}, False),
    ("show me the git log", "git_log", {}, True),
    ("give me the commit log", "git_log", {}, True),
    ("what did we commit lately", "git_log", {}, False),
    ("show the git history", "git_log", {}, True),
    ("which branch is this", "git_branches", {}, False),
    ("show me the git branches", "git_branches", {}, True),
    # the same lead before different git nouns: the call is told by the noun, not by the lead
    ("pull up the git diff", "git_diff", {}, True),
    ("pull up the git log", "git_log", {}, True),
    ("pull up the git status", "git_status", {}, True),
    ("let me see the diff", "git_diff", {}, False),
    ("let me see the log", "git_log", {}, False),
    ("bring up the git diff", "git_diff", {}, True),
    ("bring up the commit log", "git_log", {}, True),
)
_LEADS = ("okay ", "hey ", "can you ", "could you ", "please ", "alright ", "now ", "would you ")
_TAILS = (" for me", " now", " real quick", " again", " in this repo", " once more",
          " when you can")


def _as_core(text: str, tool: str, args: dict) -> tuple[str, str, dict, bool]:
    return text, tool, args, text.split()[0] not in ("what", "what's", "which", "can", "could", "let's")


# REQUESTS that keep their call whatever is said around them (not names or commit messages)
_PLAIN_CORES = tuple(_as_core(*r) for r in REQUESTS
                     if r[1] not in ("git_commit", "git_branch_create", "git_switch"))


def _compose(lead: str, text: str, tail: str) -> str:
    """lead + text + tail, without a tail the text or lead already says ("please ... please",
    "for me for me")."""
    return lead + text + ("" if tail.strip() in text or tail.strip() == lead.strip() else tail)


def request_variant(rng) -> tuple[str, str, dict]:
    """A request said another way: a core (above, or one of REQUESTS) with a lead and/or a tail."""
    text, tool, args, imperative = rng.choice(REQUEST_CORES + _PLAIN_CORES)
    lead = rng.choice(_LEADS) if imperative and rng.random() < 0.5 else ""
    tail = rng.choice(_TAILS) if rng.random() < 0.6 else ""
    return _compose(lead, text, tail), tool, args


def all_request_variants() -> set[str]:
    """Every text request_variant can give (a test keeps CompanionBench's lines out of them)."""
    return {_compose(lead, text, tail)
            for text, _, _, imperative in REQUEST_CORES + _PLAIN_CORES
            for lead in (("", *_LEADS) if imperative else ("",)) for tail in ("", *_TAILS)}


def _spoken_variants(n: int = 80) -> tuple[tuple[str, str, dict], ...]:
    import random

    rng = random.Random("request variants")  # a fixed set: each line is synthesized and recognized
    seen = {r[0] for r in REQUESTS}
    out = []
    while len(out) < n:
        variant = request_variant(rng)
        if variant[0] not in seen:
            seen.add(variant[0])
            out.append(variant)
    return tuple(out)


SPOKEN_REQUEST_VARIANTS = _spoken_variants()


def typed_requests(module: str) -> tuple[tuple[str, str, dict], ...]:
    """Typed requests may name the session's files and lines."""
    path = f"{module}.py"
    return (
        (f"lint {path}", "lint", {"paths": [path]}),
        (f"run the tests for {path}", "tests", {"paths": [f"test_{module}.py"]}),
        (f"who changed line 12 of {path}", "git_blame", {"path": path, "start": 12}),
        (f"blame {path} lines 3 to 9", "git_blame", {"path": path, "start": 3, "end": 9}),
        (f"log for {path}", "git_log", {"path": path}),
        (f"diff {path}", "git_diff", {"paths": [path]}),
        (f"commit {path} with message fix {module}", "git_commit",
         {"message": f"fix {module}", "paths": [path]}),
    )


# Questions, by what answers them (see oracle.answer)
QUESTIONS: dict[str, tuple[str, ...]] = {
    "status": ("are the tests passing", "did the tests pass", "is everything green",
               "are we good", "did that break anything", "are the tests still green",
               "is anything failing", "did my change break something", "are we passing now"),
    "repeat": ("what was that", "say that again", "sorry what did you say", "what did you just say",
               "can you repeat that", "I missed that what was it", "come again"),
    "hear": ("can you hear me", "are you there", "hello are you listening", "are you still on",
             "hey are you with me"),
    "news": ("anything new", "what's going on", "how are we doing", "any news",
             "anything I should know", "what's the situation"),
    "help": ("what can you do", "how can you help me", "what are you good for",
             "what kind of things can you do"),
    # about the code's behaviour: more than this model can read off the code; the reply says so
    # and what it can do instead (oracle.answer), or relays a failure that bears on it
    "code": ("what does this function give back", "what if the input is empty",
             "does this handle negative numbers", "why is this returning none",
             "is this loop right", "what is this variable for", "does this work with duplicates",
             "what happens with an empty string", "is this the right condition",
             "could this ever divide by zero", "why does it do that", "is that the correct result",
             # naming the code, as people do (CompanionBench's questions name theirs: none of
             # these names or sentences are its)
             "what does parse return for a blank line", "how does the tokenizer handle tabs",
             "what happens when the buffer is empty", "does sort keep equal items in order",
             "explain how the cache works", "what does load do with a missing file",
             "how does split deal with two commas in a row", "is the counter reset between calls",
             "what does average give for a single number", "why does the parser skip comments",
             "can you tell me what normalize does", "does the queue drop old items when it fills up",
             "what is the lookup table for", "how are the keys compared in find",
             "explain what the helper at the top does", "what happens if the stack overflows"),
}
# More questions about named code, composed (seeded) from forms and parts: r4 left 4 of
# CompanionBench's 13 questions unanswered, all about named code in forms training lacked
# ("do … get …", "what happens when the … is …", "explain how … handles …"). None of the parts
# are CompanionBench's (its rings, intervals, medians and flags); a test checks the sentences.
_Q_FORMS = ("what happens when the {thing} is {state}", "do {things} get {done}",
            "explain how {fn} handles {case}", "how does {fn} deal with {case}",
            "does {fn} work for {case}", "what does {fn} do with {case}",
            "can {fn} take {case}", "what should {fn} give for {case}")
_Q_THINGS = (("queue", "queues"), ("cache", "caches"), ("stack", "stacks"), ("table", "tables"),
             ("window", "windows"), ("heap", "heaps"), ("pool", "pools"), ("map", "maps"))
_Q_STATES = ("empty", "full", "too small", "shared", "reset", "sorted already")
_Q_DONE = ("copied", "sorted", "cleared", "reused", "joined together", "counted twice")
_Q_FNS = ("the loader", "split words", "count vowels", "the formatter", "make table",
          "the reader", "find max", "strip comments", "the scheduler", "join paths")
_Q_CASES = ("an empty list", "negative numbers", "a single item", "repeated keys", "blank lines",
            "unicode text", "a missing key", "zero", "very long input", "tabs")


def _composed_questions(n: int = 40) -> tuple[str, ...]:
    import random

    rng, out = random.Random("questions"), []
    while len(out) < n:
        (thing, things), fn = rng.choice(_Q_THINGS), rng.choice(_Q_FNS)
        text = rng.choice(_Q_FORMS).format(thing=thing, things=things, state=rng.choice(_Q_STATES),
                                           done=rng.choice(_Q_DONE), fn=fn, case=rng.choice(_Q_CASES))
        if text not in out:
            out.append(text)
    return tuple(out)


QUESTIONS["code"] += _composed_questions()
FILLERS = ("um", "uh", "hmm", "so", "well", "let me think", "um so", "okay so", "uh well",
           "hmm let me see", "right so", "let's see", "er", "so yeah")
# (first part, second part): a thinking pause between them; the turn is the second part's
THINKING = (
    ("so the problem is", "the loop stops one early"),
    ("I think", "this should return a list"),
    ("wait", "where is that called from"),
    ("um can you", "run the tests"),
    ("so um", "are the tests passing"),
    ("let me see", "okay that looks right"),
    ("hmm I wonder if", "the index should start at one"),
    ("the thing is", "this value is never reset"),
    ("okay so first", "I need to sort the input"),
    ("maybe we should", "handle the empty case first"),
    ("I guess the issue is", "that the counter is shared"),
    ("so what happens if", "the list is empty"),
    ("uh could you", "show me the diff"),
    ("hang on I want to", "check the git status"),
    ("so basically", "it needs to skip the duplicates"),
    ("if I change this", "the other function breaks"),
    ("let me just", "rename this variable"),
    ("and then um", "we return the total"),
    # longer first halves: the recognizer often closes these with a full stop in the pause, so
    # a finished-looking sentence must still be waited through (CompanionBench pause-mid-f4)
    ("let me figure out why the index", "goes past the end of the list"),
    ("okay so I need to check whether the counter", "is reset before the loop"),
    ("I'm trying to work out where the value", "gets overwritten"),
    ("hold on let me look at how the keys", "are sorted in this dictionary"),
    ("so if I read this right the function", "never returns anything for zero"),
    ("so what I want to know is whether the string", "has no spaces at all"),
)
BACKCHANNELS = ("mhm", "yeah", "right", "okay", "uh huh", "sure", "got it", "yep", "I see", "aha",
                "sounds good")
ASIDES = ("yeah I'll be right there", "no I'm on a call right now", "thanks just leave it on the desk",
          "yes five more minutes", "can you close the door please", "hey how was your day",
          "I'll grab a coffee later", "no the meeting is at three", "did anyone feed the cat",
          "tell him I'll call back", "thanks that's really kind", "sorry can you say that again Tom",
          # addressed to someone by name (CompanionBench's asides do that; r4 answered 3 of its 4)
          "Sam are you coming to the standup", "Priya can you pass me the charger",
          "Ben did you see the email from finance", "Lena what time is the dentist tomorrow",
          "Omar I'll be there in five minutes", "Kate did you take my mug again",
          "Jo can we move the call to Friday", "Tom is the printer working again",
          # background television or radio
          "and now the traffic on the northern bypass", "scores from last night's match after the break",
          "temperatures will drop below freezing overnight", "the markets closed slightly higher today",
          "stay with us for more after these messages", "police are asking witnesses to come forward",
          # one half of a phone call, household talk
          "hi yes speaking", "can I call you back in ten minutes", "yes the parcel came this morning",
          "no Tuesday works better for me", "okay bye talk soon", "dinner's ready in ten minutes",
          "can you turn the music down a bit", "I left the keys on the kitchen table",
          "are we still going to the cinema tonight", "yes I paid the electricity bill")
MUSING = ("okay so this should return the sum", "let me fix this loop", "I think the bug is in here",
          "now the edge case", "this is getting long", "hmm that's odd", "why is this here",
          "okay this part looks fine", "I'll clean this up later", "this name is confusing",
          "so this goes through every line", "that should be a set not a list")
TALK_OVER = ("wait hold on", "stop stop", "no I know that already", "hang on a second",
             "okay I got it", "never mind that", "yes yes I see it", "not now please",
             "okay enough", "let me stop you there")
# (text, seconds, what to remind): the remind tool's call is {"request": the words as heard},
# which the agent reads (companion.agent.reminders.parse_request; a test checks it gives these).
# A seeded choice of phrasings x delays x tasks (each line is synthesized and recognized, so the
# set is bounded); CompanionBench's tasks (stand up, commit this, check the logs) are not among them.
_REMIND_DELAYS = ((5, "five seconds"), (8, "eight seconds"), (10, "ten seconds"), (12, "twelve seconds"),
                  (15, "fifteen seconds"), (20, "twenty seconds"), (25, "twenty five seconds"),
                  (30, "thirty seconds"), (40, "forty seconds"), (45, "forty five seconds"),
                  (60, "a minute"), (60, "one minute"), (90, "ninety seconds"), (120, "two minutes"),
                  (300, "five minutes"))
_REMIND_TASKS = ("check the build", "stretch", "call Sam back", "push my branch", "drink some water",
                 "look at the open issue", "take a break", "reply to Ana", "run the benchmarks",
                 "rename that variable", "update the changelog", "review the pull request",
                 "restart the server", "eat lunch", "water the plants", "write the docs",
                 "clean up the imports", "open a ticket", "fix the typo", "deploy the fix")
_REMIND_FORMS = ("remind me in {when} to {what}", "in {when} remind me to {what}",
                 "please remind me in {when} to {what}", "can you remind me in {when} to {what}")


def _reminders(per_delay: int = 4) -> tuple[tuple[str, int, str], ...]:
    import random

    rng = random.Random("reminders")
    out = []
    for secs, when in _REMIND_DELAYS:  # every delay said a few ways, about a few tasks
        for form in rng.sample(_REMIND_FORMS, per_delay):
            what = rng.choice(_REMIND_TASKS)
            out.append((form.format(when=when, what=what), secs, what))
    return tuple(out)


REMINDERS = _reminders()
# the same as requests: (text, tool, args)
REMINDER_REQUESTS = tuple((text, "remind", {"request": text}) for text, _, _ in REMINDERS)

SPOKEN_LINES: tuple[str, ...] = tuple(dict.fromkeys(
    [r[0] for r in REQUESTS + SPOKEN_REQUEST_VARIANTS] + [q for qs in QUESTIONS.values() for q in qs] + list(FILLERS)
    + [p for pair in THINKING for p in pair] + list(BACKCHANNELS) + list(ASIDES) + list(MUSING)
    + list(TALK_OVER) + [r[0] for r in REMINDERS]))
