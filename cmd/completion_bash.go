package cmd

import (
	"io"
)

// bashFallback is written before cobra's bash script. cobra's script
// calls two functions of the bash-completion package; on a machine
// without it (a minimal install, or a shell that sourced the script
// itself) these stand-ins let completion work, without the package's
// finer handling of '=' and ':' inside words. When the package is
// there, its own functions are kept.
const bashFallback = `# Stand-ins for bash-completion's functions, used only when it is absent.
if ! declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
_get_comp_words_by_ref() {
    while [[ $1 == -* ]]; do
        [[ $1 == -n ]] && shift
        shift
    done
    local _w
    for _w in "$@"; do
        case $_w in
        cur) cur=${COMP_WORDS[COMP_CWORD]} ;;
        prev) prev=${COMP_WORDS[COMP_CWORD-1]} ;;
        words) words=("${COMP_WORDS[@]}") ;;
        cword) cword=$COMP_CWORD ;;
        esac
    done
}
fi
if ! declare -F _filedir >/dev/null 2>&1; then
_filedir() {
    local IFS=$'\n'
    if [[ $1 == -d ]]; then
        COMPREPLY=($(compgen -d -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
fi

`

// writeBashCompletion writes the stand-ins, then cobra's script.
func writeBashCompletion(root interface {
	GenBashCompletionV2(io.Writer, bool) error
}, w io.Writer) error {
	if _, err := io.WriteString(w, bashFallback); err != nil {
		return err
	}
	return root.GenBashCompletionV2(w, true)
}
