# Sourced by scripts/check-bare-install.sh: `debian_mirrors` prints this machine's Debian mirrors (the URIs of its
# own apt sources, deb822 .sources and one-line .list files, that end in /debian), one a line, so no script names
# a host. Only reads /etc/apt.
debian_mirrors() {
  {
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' || true
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' || true
  } | grep -E '/debian/?$' | sort -u || true
}
