#!/usr/bin/env bash
# Source this to get a virtual screen and virtual audio for tests and demos:
#   source scripts/headless-env.sh && headless_env_up ; ... ; headless_env_down
# Afterwards DISPLAY points at an Xvfb screen (1920x1080) and sounddevice's default output
# plays into a PulseAudio null sink whose monitor is the default input, so a sound played is
# recorded back about 20 ms later (like laptop speakers into a laptop mic).
# System packages come from scripts/setup.sh --test.

headless_env_up() {
  HEADLESS_RUN=${HEADLESS_RUN:-$(mktemp -d /tmp/companion-headless.XXXXXX)}
  mkdir -p "$HEADLESS_RUN/xdg" "$HEADLESS_RUN/home"
  chmod 700 "$HEADLESS_RUN/xdg"
  export HEADLESS_RUN
  local n=99
  while [[ -e /tmp/.X11-unix/X$n || -e /tmp/.X$n-lock ]]; do n=$((n + 1)); done
  export DISPLAY=:$n
  Xvfb "$DISPLAY" -screen 0 1920x1080x24 -nolisten tcp >"$HEADLESS_RUN/xvfb.log" 2>&1 &
  echo $! >"$HEADLESS_RUN/xvfb.pid"
  for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
  export XDG_RUNTIME_DIR="$HEADLESS_RUN/xdg" PULSE_SERVER="unix:$HEADLESS_RUN/pulse.sock"
  cat >"$HEADLESS_RUN/headless.pa" <<PA
load-module module-native-protocol-unix socket=$HEADLESS_RUN/pulse.sock auth-anonymous=1
load-module module-null-sink sink_name=vsink rate=48000
set-default-sink vsink
set-default-source vsink.monitor
PA
  HOME="$HEADLESS_RUN/home" pulseaudio --daemonize=no -n -F "$HEADLESS_RUN/headless.pa" --high-priority=yes --realtime=yes \
    --exit-idle-time=-1 --disallow-exit=yes --log-target=file:"$HEADLESS_RUN/pulse.log" &
  echo $! >"$HEADLESS_RUN/pulse.pid"
  for _ in $(seq 50); do pactl info >/dev/null 2>&1 && break; sleep 0.1; done
  pactl info >/dev/null 2>&1 || { echo "headless-env: audio did not start ($HEADLESS_RUN/pulse.log)" >&2; return 1; }
  xdpyinfo >/dev/null 2>&1 || { echo "headless-env: display did not start ($HEADLESS_RUN/xvfb.log)" >&2; return 1; }
  export COMPANION_HEADLESS_ENV=1
}

headless_env_down() {
  [[ -n ${HEADLESS_RUN:-} ]] || return 0
  local f
  for f in "$HEADLESS_RUN/pulse.pid" "$HEADLESS_RUN/xvfb.pid"; do
    [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null
  done
  unset COMPANION_HEADLESS_ENV
  return 0
}
