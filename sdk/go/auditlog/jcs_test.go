package auditlog

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// recordWire is a committed record as it may arrive: members in another order, non-ASCII
// escaped. Its canonical form and leaf hash were computed outside Go, with Python's json module
// (sort_keys, compact separators, ensure_ascii=False), which for strings, integers and nulls
// writes exactly RFC 8785.
const recordWire = `{
  "audit_id": "0193a1b2-7c4d-4e8f-9a0b-1c2d3e4f5a6b",
  "timestamp": "2026-11-26T12:00:00.000000Z",
  "event_type": "doc.update",
  "user_id": "zo\u00eb \"the admin\" <z@example.com>",
  "session_id": null,
  "ip_address": "192.0.2.7",
  "user_agent": "Mozilla/5.0 (X11)\u2028line\tsep",
  "resource_type": "doc",
  "resource_id": "doc-1/\u00df&\u20ac\ud83d\ude00",
  "action": "update",
  "status": "success",
  "request_data": "{\"a\":{\"list\":[1,2.5,null,true],\"\u00fc\":\"\u00df\"},\"text\":\"line\\n\\t\\\"q\\\"\\u0001\u007f\",\"z\":1}",
  "response_data": null,
  "metadata": "{\"k\":\"v\"}",
  "tenant_id": "acme",
  "service_name": null,
  "correlation_id": "c-1",
  "retention_period_days": 2555,
  "created_at": "2026-11-26T12:00:01.123456Z",
  "partition_date": "2026-11-26"
}`

const recordCanonical = "{\"action\":\"update\",\"audit_id\":\"0193a1b2-7c4d-4e8f-9a0b-1c2d3e4f5a6b\",\"correlation_id\":\"c-1\",\"created_at\":\"2026-11-26T12:00:01.123456Z\",\"event_type\":\"doc.update\",\"ip_address\":\"192.0.2.7\",\"metadata\":\"{\\\"k\\\":\\\"v\\\"}\",\"partition_date\":\"2026-11-26\",\"request_data\":\"{\\\"a\\\":{\\\"list\\\":[1,2.5,null,true],\\\"\u00fc\\\":\\\"\u00df\\\"},\\\"text\\\":\\\"line\\\\n\\\\t\\\\\\\"q\\\\\\\"\\\\u0001\x7f\\\",\\\"z\\\":1}\",\"resource_id\":\"doc-1/\u00df&\u20ac\U0001f600\",\"resource_type\":\"doc\",\"response_data\":null,\"retention_period_days\":2555,\"service_name\":null,\"session_id\":null,\"status\":\"success\",\"tenant_id\":\"acme\",\"timestamp\":\"2026-11-26T12:00:00.000000Z\",\"user_agent\":\"Mozilla/5.0 (X11)\u2028line\\tsep\",\"user_id\":\"zo\u00eb \\\"the admin\\\" <z@example.com>\"}"

const recordLeafHash = "3049afbeee4148ac7fc3d51cdacc54a1f8f5bb401396ae356a675d8323b94fb1"

func TestLeafHashOfACommittedRecord(t *testing.T) {
	canon, err := CanonicalJSON([]byte(recordWire))
	if err != nil {
		t.Fatal(err)
	}
	if string(canon) != recordCanonical {
		t.Fatalf("canonical form\n got %q\nwant %q", canon, recordCanonical)
	}
	leaf, err := LeafHash([]byte(recordWire))
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(leaf) != recordLeafHash {
		t.Fatalf("leaf hash %x", leaf)
	}
	// Independently of HashLeaf: SHA-256 over 0x00 and the canonical bytes.
	sum := sha256.Sum256(append([]byte{0}, recordCanonical...))
	if hex.EncodeToString(sum[:]) != recordLeafHash {
		t.Fatal("the vector itself is inconsistent")
	}
	tampered := strings.Replace(recordWire, "2555", "2554", 1)
	if other, _ := LeafHash([]byte(tampered)); hex.EncodeToString(other) == recordLeafHash {
		t.Fatal("a changed record kept its leaf hash")
	}
}

func TestCanonicalJSONVectors(t *testing.T) {
	cases := []struct{ in, want string }{
		// RFC 8785 section 3.2.2 (the example of its appendix, literals, numbers and string).
		{`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
		  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
		  "literals": [null, true, false]}`,
			"{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\u20ac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"},
		// Controls: two-letter escapes where JSON has them, lowercase \u00xx otherwise; no
		// escaping of <, >, &, U+2028, DEL, non-ASCII (encoding/json would escape several).
		{`"\u0000\b\t\n\f\r\u001f<>&\u2028\u007f\u00e9"`, "\"\\u0000\\b\\t\\n\\f\\r\\u001f<>&\u2028\x7f\u00e9\""},
		// Member order is by UTF-16 code units: U+1F600 (a surrogate pair, D83D) sorts before
		// U+FB33, though its UTF-8 bytes sort after.
		{`{"\ufb33":1,"\ud83d\ude00":2,"\u00f6":3,"1":4,"\r":5,"\u0080":6,"\u20ac":7}`,
			"{\"\\r\":5,\"1\":4,\"\u0080\":6,\"\u00f6\":3,\"\u20ac\":7,\"\U0001f600\":2,\"\ufb33\":1}"},
		{`{"b":[],"a":{},"c":{"y":null,"x":[1,"2",{"z":-0}]}}`, `{"a":{},"b":[],"c":{"x":[1,"2",{"z":0}],"y":null}}`},
		{`[1e21, 1e20, 123456789012345680000, 1e-6, 1e-7, -5e-324, 9007199254740993, 0.1, 100, -1.5e300]`,
			`[1e+21,100000000000000000000,123456789012345680000,0.000001,1e-7,-5e-324,9007199254740992,0.1,100,-1.5e+300]`},
	}
	for _, tc := range cases {
		got, err := CanonicalJSON([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if string(got) != tc.want {
			t.Errorf("CanonicalJSON(%s)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{`{"a":1} {"b":2}`, `{"a":`, "\"\xff\"", `NaN`} {
		if _, err := CanonicalJSON([]byte(bad)); err == nil {
			t.Errorf("CanonicalJSON(%q) accepted", bad)
		}
	}
}
