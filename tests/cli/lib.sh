# Shared by the CLI tests: a synthetic arm64 Image writer.

# Little-endian u64 on stdout.
le64() {
	v=$1
	i=0
	while [ $i -lt 8 ]; do
		printf "\\$(printf %03o $((v & 255)))"
		v=$((v >> 8))
		i=$((i + 1))
	done
}

# arm64_image FILE IMAGE_SIZE FLAGS MAGIC PAYLOAD_SOURCE PAYLOAD_BYTES
# The 64-byte header (text_offset 0, image_size, flags, magic at 56), then the payload.
arm64_image() {
	{
		printf '\000\000\000\024\000\000\000\000' # code0: b +0x50; code1: 0
		le64 0
		le64 "$2"
		le64 "$3"
		le64 0
		le64 0
		le64 0
		printf '%s' "$4"
		printf '\000\000\000\000'
		head -c "$6" "$5"
	} >"$1"
}
