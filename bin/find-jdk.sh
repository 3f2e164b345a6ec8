# Sourced by bin/ladon and .ci/run: sets JAVA_HOME to a JDK 25 or newer, or exits with one line saying why not.
# Order: JAVA_HOME if it is 25+, else the newest JDK >= 25 under /usr/lib/jvm.
ladon_java_major() { # prints the feature version of the JDK at $1, or nothing
  local rel="$1/release"
  [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 0
  if [ -f "$rel" ]; then
    sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$rel"
  else
    "$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1
  fi
}
ladon_find_jdk() {
  local v best="" bestv=0 d
  if [ -n "${JAVA_HOME:-}" ]; then
    v=$(ladon_java_major "$JAVA_HOME")
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then return 0; fi
  fi
  for d in /usr/lib/jvm/*; do
    [ -d "$d" ] || continue
    v=$(ladon_java_major "$d")
    if [ -n "$v" ] && [ "$v" -ge 25 ] && [ "$v" -gt "$bestv" ]; then best=$d; bestv=$v; fi
  done
  if [ -z "$best" ]; then
    echo "ladon: no JDK 25 or newer found (JAVA_HOME=${JAVA_HOME:-unset}, none under /usr/lib/jvm); install one, e.g. Temurin 25, and set JAVA_HOME." >&2
    exit 1
  fi
  export JAVA_HOME=$best
}
ladon_find_jdk
export PATH="$JAVA_HOME/bin:$PATH"
