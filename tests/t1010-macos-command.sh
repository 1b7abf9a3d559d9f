#!/usr/bin/env bash
# t1010 - the macOS command, cross-built (mk/macos-cli.mk): each of
# build/macos-arm64/perfprobe and build/macos-x86_64/perfprobe is a Mach-O
# executable of its architecture whose every undefined symbol binds to
# libSystem (no libcurl: push is left out), read with llvm-objdump --macho;
# and the Mach-O symbol reader (tools/read/macho.c) finds the functions of
# small Zig-built images (thin and fat) at the addresses llvm-objdump gives.
# Installs nothing: without Zig or ld64.lld it skips with the reason,
# unless CI=true (tools/install-deps.sh installs them there).
. "$PP_ROOT/tests/lib.sh"

macos_tools
LIPO=$(command -v llvm-lipo llvm-lipo-14 2>/dev/null | head -1)
compgen -G "$ZIG_DIR/src/jansson-*/src/jansson.h" >/dev/null ||
    why="${why:+$why; }no jansson/zlib sources (bash tools/fetch-macos-src.sh $ZIG_DIR/src)"
if [ -n "$why" ]; then
    if [ "${CI:-}" = true ]; then fail "macOS build tools missing under CI: $why"; exit 0; fi
    ok "skipped: $why"
    exit 0
fi

# ---- the command for both architectures --------------------------------------
if make -s -C "$PP_ROOT" B="$B" ZIG="$ZIG" ZIG_DIR="$ZIG_DIR" macos-cli >make.out 2>&1; then
    ok "make macos-cli builds with warnings as errors"
else
    fail "make macos-cli: $(tail -5 make.out)"
fi
for a in arm64 x86_64; do
    f=$PP_BUILD/macos-$a/perfprobe
    [ -f "$f" ] || { fail "$f missing"; continue; }
    cpu=$(llvm-objdump --macho --private-header "$f" | awk '$1 == "MH_MAGIC_64" { print $2, $5 }')
    want=$([ $a = arm64 ] && echo "ARM64 EXECUTE" || echo "X86_64 EXECUTE")
    eq "$a: a 64-bit Mach-O executable of the architecture" "$cpu" "$want"
    eq "$a: the only library it uses is libSystem" \
       "$(llvm-objdump --macho --dylibs-used "$f" | tail -n +2 | awk '{ print $1 }' | sort -u | tr '\n' ' ')" \
       "/usr/lib/libSystem.B.dylib "
    # every import, bound now or lazily, names libSystem: no flat namespace,
    # no dynamic_lookup left for dyld to find at run time
    llvm-objdump --macho --bind --lazy-bind --weak-bind "$f" > binds.txt
    awk '/^__/ { print $(NF-1) }' binds.txt | sort | uniq -c > dylibs.txt
    eq "$a: every bound symbol binds to libSystem" "$(awk '{ print $2 }' dylibs.txt | sort -u | tr '\n' ' ')" "libSystem "
    # the symbol table's undefined symbols, each bound: as many as the binds name
    und=$(llvm-objdump --macho --syms "$f" | awk '$2 == "*UND*" { print $3 }' | sort -u)
    bound=$(awk '/^__/ { print $NF }' binds.txt | sort -u)
    eq "$a: every undefined symbol is bound ($(echo "$und" | wc -l))" "$(comm -23 <(echo "$und") <(echo "$bound") | tr '\n' ' ')" ""
    check "$a: no libcurl symbol (push is left out)" bash -c "! grep -q '_curl_' <<< \"$und\""
    check "$a: imports the system calls it was written for (_NSGetExecutablePath, accept)" \
          bash -c "grep -qx '__NSGetExecutablePath' <<< \"$und\" && grep -qx '_accept' <<< \"$und\""
    # the command's own functions, through the reader, where llvm-objdump puts them
    llvm-objdump --macho --syms "$f" | awk '$3 == "F" && $4 == "__TEXT,__text" { print $1, $5 }' > objdump.txt
    "$PP_BUILD/macho-syms" "$f" $a > reader.txt
    missing=0
    while read -r addr name; do
        grep -q "^$addr ${name#_} " reader.txt || { missing=$((missing + 1)); echo "# $a: $name at $addr not found"; }
    done < objdump.txt
    eq "$a: the reader lists all $(wc -l < objdump.txt) functions of the command at objdump's addresses" "$missing" 0
done

# ---- the reader on small images ----------------------------------------------
cat > p.c <<'C'
#include <stdio.h>
__attribute__((noinline)) static int helper(int x) { return x * 3 + (x >> 2); }
__attribute__((noinline)) int alpha(int x) { return helper(x) + 2; }
__attribute__((noinline)) int beta(int x) { for (int i = 0; i < x; i++) x ^= i * 7; return x; }
int main(int argc, char **argv) { (void)argv; printf("%d\n", alpha(argc) + beta(argc)); return 0; }
C
sdk=$(dirname "$ZIG")/lib/libc/darwin/libSystem.13.tbd
for a in arm64 x86_64; do
    t=$([ $a = arm64 ] && echo aarch64-macos.11.0 || echo x86_64-macos.11.0)
    "$ZIG" cc -target $t -O2 -c p.c -o p-$a.o && \
        "$LD64" -arch $a -platform_version macos 11.0 13.0 -o p-$a p-$a.o "$sdk" ||
        fail "$a: the small image did not build"
done
if [ -n "$LIPO" ]; then
    "$LIPO" -create p-arm64 p-x86_64 -output p-fat || fail "llvm-lipo -create"
fi
for img in p-arm64:arm64 p-x86_64:x86_64 p-fat:arm64 p-fat:x86_64; do
    file=${img%%:*} a=${img#*:}
    [ -f "$file" ] || continue
    llvm-objdump --macho --arch $a --syms "$file" |
        awk '$3 == "F" && $4 == "__TEXT,__text" && $5 != "__mh_execute_header" { sub(/^_/, "", $5); print $1, $5 }' |
        sort > want.txt
    "$PP_BUILD/macho-syms" "$file" $a | awk '{ print $1, $2 }' | grep -v ' _mh_execute_header$' |
        grep -v ' _dyld_private$' | sort > got.txt
    eq "$file ($a): the reader's functions and addresses are objdump's" \
       "$(tr '\n' ' ' < got.txt)" "$(tr '\n' ' ' < want.txt)"
    check "$file ($a): helper, alpha, beta and main are all there" \
          bash -c "[ \$(grep -cE ' (helper|alpha|beta|main)$' want.txt) = 4 ]"
    # a lookup inside each function (its first byte, one past, its last)
    # names it; the byte past __text names nothing
    bad=0
    sorted=$(sort want.txt)
    read -r tsize tvma < <(llvm-objdump --macho --arch $a --section-headers "$file" |
                           awk '$2 == "__text" { print $3, $4 }')
    text_end=$(printf '0x%x' $((0x$tvma + 0x$tsize)))
    while read -r addr name; do
        next=$(awk -v a="$addr" '($1 "") > (a "") { print $1; exit }' <<< "$sorted")
        last=$(printf '0x%x' $(( ${next:+0x$next}${next:-$text_end} - 1 )))
        for q in 0x$addr $(printf '0x%x' $((0x$addr + 1))) $last; do
            got=$("$PP_BUILD/macho-syms" "$file" $a $q | awk '{ print $2 }')
            [ "$got" = "$name" ] || { bad=$((bad + 1)); echo "# $q: $got, not $name"; }
        done
    done <<< "$sorted"
    eq "$file ($a): addresses inside each function resolve to it" "$bad" 0
    eq "$file ($a): the byte past __text resolves to nothing" \
       "$("$PP_BUILD/macho-syms" "$file" $a $text_end | awk '{ print $2 }')" "-"
done
if [ -f p-fat ]; then
    uuids=$(for a in arm64 x86_64; do llvm-objdump --macho --arch $a --private-headers p-fat |
            awk '$1 == "uuid" { print tolower($2) }' | tr -d -; done | sort | tr '\n' ' ')
    eq "fat: two slices with objdump's UUIDs" \
       "$("$PP_BUILD/macho-syms" --slices p-fat | awk '{ print $3 }' | sort | tr '\n' ' ')" "$uuids"
fi

# ---- symbols_macho.c: module records as a Mac's run has them -----------------
# base is the slide (as on Linux, the load bias): the image at 0x100000000
# in its file, loaded 0x7a0000 higher; the return address is one past the
# call, so alpha's first byte + 1 names alpha
if [ -f p-fat ]; then
    slide=$((0x7a0000)) lo=$((0x100000000 + 0x7a0000)) hi=$((0x100000000 + 0x7a0000 + 0x100000))
    for a in arm64 x86_64; do
        uuid=$(llvm-objdump --macho --arch $a --private-headers p-fat | awk '$1 == "uuid" { print $2 }')
        rec="[{\"type\":\"module\",\"path\":\"$PWD/p-fat\",\"base\":$slide,\"build_id\":\"$uuid\",\"ranges\":[[$lo,$hi]]}]"
        addrs=() want=
        while read -r addr name; do
            addrs+=($(printf '0x%x' $((0x$addr + slide + 1))))
            want+="$name "
        done < <(llvm-objdump --macho --arch $a --syms p-fat |
                 awk '$3 == "F" && $4 == "__TEXT,__text" && $5 != "__mh_execute_header" { sub(/^_/, "", $5); print $1, $5 }' | sort)
        eq "symbols_macho, fat file, the $a slice by its UUID: each return address names its function" \
           "$("$PP_BUILD/macho-symbolise" "$rec" "${addrs[@]}" | awk '{ printf "%s ", $2 }')" "$want"
    done
    # a build id that matches no slice: the file is not trusted, image+offset
    rec="[{\"type\":\"module\",\"path\":\"$PWD/p-fat\",\"base\":$slide,\"build_id\":\"00112233-4455-6677-8899-aabbccddeeff\",\"ranges\":[[$lo,$hi]]}]"
    eq "symbols_macho: a rebuilt file (other UUID) gives p-fat+0xOFFSET from the image's start" \
       "$("$PP_BUILD/macho-symbolise" "$rec" $(printf '0x%x' $((lo + 0x5f1))) | awk '{ print $2 }')" "p-fat+0x5f0"
    eq "symbols_macho: an address in no module gives 0xADDR" \
       "$("$PP_BUILD/macho-symbolise" "$rec" 0x1235 | awk '{ print $2 }')" "0x1234"
fi
