# Sourced by the experiment scripts. `run NAME FLAGS...` trains one row with the script's
# ${common[@]} flags plus FLAGS into $out/NAME_s$seed (log: $out/NAME_s$seed.log), and skips
# a row that already finished, so an interrupted script continues where it stopped.
run() {
    local name=$1; shift
    if [ -f "$out/${name}_s$seed/run.json" ] && grep -q '"finished"' "$out/${name}_s$seed/run.json"; then
        echo "skip $name (done)"; return
    fi
    echo "$(date +%T) $name: $*"
    python train.py "${common[@]}" "$@" --run-dir "$out/${name}_s$seed" > "$out/${name}_s$seed.log" 2>&1
}
