# Sourced by ./scripts/run and ./scripts/test: make .venv/ and install slpdesk into it
# (with the extras given, e.g. "[test]") only when it is missing or pyproject.toml (or
# the Python) changed since the last install: a stamp file holds their hash.
ensure_env() {
  local extras="${1:-}" stamp want
  stamp=".venv/.installed${extras:+-${extras//[^a-z]/}}"
  want=$({ cat pyproject.toml; python3 --version; echo "$extras"; } | sha256sum | cut -d' ' -f1)
  if [ -x .venv/bin/slpdesk ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".$extras"
  echo "$want" > "$stamp"
}
