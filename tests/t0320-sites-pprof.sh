# perfprobe pprof: the profile decodes with an independent reader (protoc,
# given the schema as published in github.com/google/pprof
# proto/profile.proto) and its totals match report --sites --json, at exit,
# at the peak and at a probe.
. "$PP_ROOT/tests/lib.sh"
P=$PP_BUILD/perfprobe
cat > profile.proto <<'PROTO'
syntax = "proto3";
package perftools.profiles;
message Profile {
  repeated ValueType sample_type = 1;
  repeated Sample sample = 2;
  repeated Mapping mapping = 3;
  repeated Location location = 4;
  repeated Function function = 5;
  repeated string string_table = 6;
  int64 drop_frames = 7;
  int64 keep_frames = 8;
  int64 time_nanos = 9;
  int64 duration_nanos = 10;
  ValueType period_type = 11;
  int64 period = 12;
  repeated int64 comment = 13;
  int64 default_sample_type = 14;
}
message ValueType { int64 type = 1; int64 unit = 2; }
message Sample { repeated uint64 location_id = 1; repeated int64 value = 2; repeated Label label = 3; }
message Label { int64 key = 1; int64 str = 2; int64 num = 3; int64 num_unit = 4; }
message Mapping {
  uint64 id = 1; uint64 memory_start = 2; uint64 memory_limit = 3; uint64 file_offset = 4;
  int64 filename = 5; int64 build_id = 6; bool has_functions = 7; bool has_filenames = 8;
  bool has_line_numbers = 9; bool has_inline_frames = 10;
}
message Location { uint64 id = 1; uint64 mapping_id = 2; uint64 address = 3; repeated Line line = 4; bool is_folded = 5; }
message Line { uint64 function_id = 1; int64 line = 2; }
message Function { uint64 id = 1; int64 name = 2; int64 system_name = 3; int64 filename = 4; int64 start_line = 5; }
PROTO
cp "$PP_ROOT/tests/progs/sites_lib.c.in" siteslib.c
sed -e 's/lib_sink/plugin_sink/g; s/lib_alloc/plugin_alloc/' siteslib.c > sitesplug.c
cc -shared -fPIC -g -O1 -o libsiteslib.so siteslib.c
cc -shared -fPIC -g -O1 -o libsitesplug.so sitesplug.c
PERFPROBE_STACKS=all traced a.jsonl "$T/sites_known" facts "$PWD/libsiteslib.so" "$PWD/libsitesplug.so"
"$P" report --json a.jsonl > a.json

# decode: the text format of protoc, then the four totals by sample-type
# index (values come in sample_type order)
decode() { zcat "$1" | protoc --decode=perftools.profiles.Profile profile.proto; }
totals() {  # the sums of value[0..3] over the samples
    awk '/^sample {/ { k = 0; in_s = 1 } in_s && /^  value:/ { t[k++] += $2 } /^}/ { in_s = 0 }
         END { printf "%d %d %d %d\n", t[0], t[1], t[2], t[3] }'
}
"$P" pprof a.jsonl -o exit.pb.gz
decode exit.pb.gz > exit.txt
eq "pprof: the file is gzip'd profile.proto that protoc decodes" "$?" 0
eq "pprof: sample types of the heap convention" \
    "$(decode exit.pb.gz | awk '/^string_table:/ { s[n++] = $2 } END { print s[1], s[2], s[3], s[4], s[5], s[6] }' | tr -d '"')" \
    "alloc_objects count alloc_space bytes inuse_objects inuse_space"
eq "pprof --at exit: totals match report --json (allocs, alloc bytes, live blocks, live bytes)" \
    "$(totals < exit.txt)" \
    "$(jq -r '[([.sites[].allocs]|add), ([.sites[].alloc_bytes]|add), ([.sites[].live_blocks]|add), ([.sites[].live_bytes]|add)] | map(tostring) | join(" ")' a.json)"
eq "pprof: a mapping carries the executable's build id" \
    "$(awk '/^string_table:/ { print $2 }' exit.txt | tr -d '"' | grep -cx "$(readelf -n "$T/sites_known" | sed -n 's/.*Build ID: //p')")" 1
check "pprof: functions are named (big_site)" grep -q '^string_table: "big_site"' exit.txt
"$P" pprof --at peak a.jsonl -o peak.pb.gz
eq "pprof --at peak: in-use bytes are the peak figures" \
    "$(decode peak.pb.gz | totals | awk '{ print $4 }')" "$(jq '[.sites[].peak_bytes] | add' a.json)"
"$P" pprof --at loaded a.jsonl -o loaded.pb.gz
eq "pprof --at PROBE: big_site's 32 MiB are in use at the probe 'loaded'" \
    "$(decode loaded.pb.gz | totals | awk '{ print ($4 >= '"$(fact facts big_bytes)"') }')" 1
"$P" pprof --at nosuch a.jsonl -o x.pb.gz 2> err
eq "pprof --at an unknown probe: exit 2" "$?" 2
