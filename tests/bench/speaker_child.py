"""Child process of test_audible_times: plays phrases through the real Speaker while two threads
compete for the GIL (as the companion's other threads do), and prints its SelfSpeech as JSON."""

import json
import sys
import threading
import time

from companion.core.events import AudioUnderruns, SelfSpeech
from companion.voice.speaker import Speaker

PHRASES = ["two tests failed in the parser module.", "the median is wrong for even lists.", "ok.",
           "line eleven returns the wrong index.", "done."]


def main() -> None:
    events: list = []
    speaker = Speaker(events.append)
    speaker.start()
    stop = threading.Event()

    def busy() -> None:  # pure-Python work holds the GIL, like ASR, dMel and the model client
        while not stop.is_set():
            sum(i * i for i in range(20_000))

    for _ in range(2):
        threading.Thread(target=busy, daemon=True).start()
    time.sleep(2.5)  # past the output stream's start-up
    for i in range(int(sys.argv[1])):
        for word in PHRASES[i % len(PHRASES)].split():  # streamed word by word, as the model does
            speaker.say(" " + word)
            time.sleep(0.08)
        time.sleep(0.5)
        while speaker.speaking:
            time.sleep(0.05)
        time.sleep(0.8 + 0.5 * (i % 2))
    stop.set()
    time.sleep(0.5)
    speaker.close()
    said = [(e.t, e.t_end, e.text) for e in events if isinstance(e, SelfSpeech) and e.text]
    underruns = [e.t for e in events if isinstance(e, AudioUnderruns)]
    print(json.dumps({"said": said, "underflows": speaker.underflows, "underrun_reports": underruns}))


if __name__ == "__main__":
    main()
