/**
 * kubectl's JSONPath: every expected output below is what the real kubectl 1.35 printed for the same template on the
 * same objects (three Gadgets of a CRD that keeps any field, listed with `kubectl get gadgets -o jsonpath=...`), and
 * every expected error is the message kubectl gave. Parse errors must come from parsing, evaluation errors from running.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { columnText } from "../../src/cli/jsonpath.js";
import { GoFloat, goFloat, goJson, goSprint } from "../../src/object/gofmt.js";
import {
  executeJsonPath,
  findResults,
  JsonPathError,
  jsonPath,
  parseJsonPath,
  relaxedJsonPath,
} from "../../src/object/jsonpath.js";

/** The List kubectl hands its JSONPath printer (uids, timestamps and managedFields left out: no template reads them). */
const list = {
  apiVersion: "v1",
  items: [
    {
      apiVersion: "play.dev/v1",
      kind: "Gadget",
      metadata: {
        labels: {
          team: "a",
          tier: "web",
        },
        name: "g1",
        namespace: "play2",
      },
      spec: {
        big: 12345678.5,
        cpu: "500m",
        enabled: true,
        list: [
          1,
          "two",
          3.5,
          true,
          null,
          {
            k: "v",
          },
        ],
        name: "x<y",
        nested: {
          a: [1, 2],
          b: {
            c: 1,
          },
        },
        nothing: null,
        ratio: 1.5,
        size: 10,
        tiny: 1e-5,
        word: "café",
      },
    },
    {
      apiVersion: "play.dev/v1",
      kind: "Gadget",
      metadata: {
        labels: {
          team: "b",
        },
        name: "g2",
        namespace: "play2",
      },
      spec: {
        cpu: "2",
        enabled: false,
        items: [
          {
            name: "a",
            v: 1,
          },
          {
            name: "b",
            v: 2,
          },
        ],
        ratio: 2,
        size: 9,
      },
    },
    {
      apiVersion: "play.dev/v1",
      kind: "Gadget",
      metadata: {
        name: "g3",
        namespace: "play2",
      },
      spec: {
        cpu: "1500m",
        name: "aa",
        ratio: 0.5,
        size: 100,
      },
    },
  ],
  kind: "List",
  metadata: {
    resourceVersion: "",
  },
} as const;

type Expected = string | { parse: string } | { execute: string };

const cases: [string, Expected][] = [
  ["{.items[*].metadata.name}", "g1 g2 g3"],
  ['{range .items[*]}{.metadata.name}{"\\t"}{.spec.size}{"\\n"}{end}', "g1\t10\ng2\t9\ng3\t100\n"],
  [
    "{.items[0].spec}",
    '{"big":12345678.5,"cpu":"500m","enabled":true,"list":[1,"two",3.5,true,null,{"k":"v"}],"name":"x\\u003cy","nested":{"a":[1,2],"b":{"c":1}},"nothing":null,"ratio":1.5,"size":10,"tiny":0.00001,"word":"caf\u00e9"}',
  ],
  ["{.items[0].spec.list}", '[1,"two",3.5,true,null,{"k":"v"}]'],
  ["{.items[0].spec.list[*]}", '1 two 3.5 true null {"k":"v"}'],
  [
    "{.items[0].spec.nothing}|{.items[0].spec.ratio} {.items[0].spec.big} {.items[0].spec.tiny} {.items[0].spec.enabled}",
    "null|1.5 1.23456785e+07 1e-05 true",
  ],
  ["{.items[?(@.spec.size>9)].metadata.name}", "g1 g3"],
  ["{.items[?(@.spec.size==9.0)].metadata.name}", { execute: "incompatible types for comparison" }],
  ["{.items[?(@.spec.ratio>1)].metadata.name}", { execute: "incompatible types for comparison" }],
  ["{.items[?(@.spec.ratio>1.0)].metadata.name}", { execute: "incompatible types for comparison" }],
  ['{.items[?(@.spec.size=="9")].metadata.name}', { execute: "incompatible types for comparison" }],
  ["{.items[?(@.spec.enabled==true)].metadata.name}", "g1"],
  ["{.items[?(@.spec.enabled)].metadata.name}", "g1 g2"],
  ["{.items[?(@.spec.enabled<true)].metadata.name}", { execute: "invalid type for comparison" }],
  ['{.items[?(@.spec.name<"b")].metadata.name}', "g3"],
  ['{.items[?(@.spec.name>="aa")].metadata.name}', "g1 g3"],
  ["{.items[?(@.spec.size!=9)].metadata.name}", "g1 g3"],
  ["{.items[?(@.spec.size<=10)].metadata.name}", "g1 g2"],
  ["{.items[?(@.spec.nothing==1)].metadata.name}", { execute: "invalid type for comparison" }],
  ['{.items[?(@.metadata.labels.team!="a")].metadata.name}', "g2"],
  ["{.items[?(@.metadata.name=='g2')].spec.items[?(@.v>1)].name}", "b"],
  ["{.items[*].spec.list[?(@==1)]}", { execute: "incompatible types for comparison" }],
  ['{.items[?(@..team=="b")].metadata.name}', "g2"],
  ["{.items[?(@.spec.size > 9)].metadata.name}", "g1 g3"],
  ['{.items[0].spec.list[?(@.k=="v")]}', '{"k":"v"}'],
  [
    "{range .items[*]}{.metadata.name}{range .spec.list[*]}<{@}>{end};{end}!",
    'g1<1><two><3.5><true><<no value>><{"k":"v"}>;g2;g3;!',
  ],
  ["{range .items[*]}{.metadata.name}{end}-{range .items[*]}{.spec.size}{end}", "g1g2g3-109100"],
  ["{range .items[?(@.spec.size>1000)]}{.metadata.name}{end}after", "after"],
  ["a{range .nope}b{end}c", "ac"],
  ['{range .items[*].metadata}{.name}{" "}{end}', "g1 g2 g3 "],
  ['{range .items[*]}{.metadata.name}{"\\n"}', "g1\ng2\ng3\n\n"],
  ["{range .items[*]}[{.metadata.labels.team}]{end}", "[a][b][]"],
  [
    "{.items[0:2].metadata.name}|{.items[-2:].metadata.name}|{.items[:-1].metadata.name}|{.items[0:3:2].metadata.name}|{.items[2:2].metadata.name}|{.items[-1].metadata.name}|{.items[3:3]}",
    "g1 g2|g2 g3|g1 g2|g1 g3||g3|",
  ],
  ["{.items[0,2].metadata.name}", "g1 g3"],
  ["{.items[*]['metadata.name']}", "g1 g2 g3"],
  ["{.items[0].metadata.labels['team']}", "a"],
  ["{.items[*].metadata.labels.team}", "a b"],
  ["{..size}", "10 9 100"],
  ["{.items[*].spec.nested..c}", "1"],
  ["{.items[0].spec.nested.*}", '[1,2] {"c":1}'],
  ["{.items[0].spec.word}|{.items[0].spec.name}", "caf\u00e9|x<y"],
  ['{1.5}{-3}{true}{ false }{"a\\"b"}{\'c\\\'d\'}{"\\u00e9"}', "1.5-3truefalsea\"bc'd\u00e9"],
  ["{.kind} {.apiVersion} {.metadata}", 'List v1 {"resourceVersion":""}'],
  ["{end}", { execute: "not in range, nothing to end" }],
  ["{.items[5]}", { execute: "array index out of bounds: index 5, length 3" }],
  ["{.items[1:0]}", { execute: "starting index 1 is greater than ending index 0" }],
  ["{.items[::0]}", { execute: "step must be > 0" }],
  ["{.items[a]}", { parse: "invalid array index a" }],
  ["{.items[}", { parse: "unterminated array" }],
  ["{.items", { parse: "unclosed action" }],
  ["{foo}", { execute: "unrecognized identifier foo" }],
  ['{.items[?(@.metadata.name=~"g.*")]}', { parse: "unrecognized character in action: U+007E '~'" }],
  ['{.items[?(@.metadata.name<>"x")]}', { execute: "unrecognized filter operator <>" }],
  ["{....a}", { parse: "invalid multiple recursive descent" }],
  ["{.items[0].metadata.name.*}", "103 49"],
  ["{.items[0].spec.size[0]}", { execute: "int64 is not array or slice" }],
  [
    "{.items[0].spec[?(@.x)]}",
    {
      execute:
        "map[big:1.23456785e+07 cpu:500m enabled:true list:[1 two 3.5 true <nil> map[k:v]] name:x<y nested:map[a:[1 2] b:map[c:1]] nothing:<nil> ratio:1.5 size:10 tiny:1e-05 word:caf\u00e9] is not array or slice and cannot be filtered",
    },
  ],
  ["{.items[?(@.spec.list[9])].metadata.name}", "g1"],
  ["{.items[0]. metadata}", { execute: "unrecognized identifier metadata" }],
  ["{@.kind}{$.kind}", "ListList"],
  ["{.items[0].spec.items[*]['name']}", ""],
  ["{range .items[*]}{.metadata.name}:{range .spec.items[*]}{.name}={.v},{end};{end}", "g1:;g2:a=1,b=2,;g3:;"],
  ["{.items[*].spec.items[0:1].name}", "a"],
  ["{range .items[*]}{range .spec.items[*]}{.name}{end}|", "|ab|||"],
  ["{range .nope}{foo}{end}x", { execute: "unrecognized identifier foo" }],
  ["{range .items[*]}{.metadata.name}{end}{end}", { execute: "not in range, nothing to end" }],
  ["{range .items[0:1]}{range .spec.list[4:5]}{@}{.x}{end}{end}", "<no value>"],
  ["{.items[0].spec.list[4]}{range .items[0].spec.list[4:5]}{@}{end}", "null<no value>"],
  ['{range .items[*]}{.spec.cpu}{","}{end}', "500m,2,1500m,"],
  ["{.items[*].spec.items[*]}", '{"name":"a","v":1} {"name":"b","v":2}'],
  ["{.items[*].spec.nested}", '{"a":[1,2],"b":{"c":1}}'],
  ["{range .items[*].spec.nested.*}{@};{end}", '[1,2];{"c":1};'],
  ["{.items[-4]}", { execute: "array index out of bounds: index -1, length 3" }],
  ["{.items[0:5]}", { execute: "array index out of bounds: index 4, length 3" }],
  ["{.items[2:-2]}", { execute: "starting index 2 is greater than ending index 1" }],
  ["{.items[0:0]}x{.items[1:1].metadata.name}y", "xy"],
  ["{.items[ 0]}", { parse: "invalid array index  0" }],
  ["{.items[0 ,1].metadata.name}", "g1 g2"],
  ["{.items[?(@.spec.size>9 )].metadata.name}", "g1 g3"],
  ["{.items[?( @.spec.size)].metadata.name}", "g1 g2 g3"],
  ['{.items[?(@.spec.name=="x<y")].metadata.name}', "g1"],
  ["{.items[?(@.metadata.name==@.spec.name)]}", ""],
  ["{.items[?(@.spec.list)].metadata.name}", "g1"],
  ["{.items[?(@.spec.nothing)].metadata.name}", "g1"],
  ['{.items[0].spec.big}{"\\x41"}{"\\101"}{\'\\n\'}', "1.23456785e+07AA\n"],
  ['{"\\q"}', { parse: 'unquote string "\\q" error invalid syntax' }],
  ['{"it\'s"}{\'say "hi"\'}', 'it\'ssay "hi"'],
  ["{.items[0].metadata.labels.tier\\.x}", ""],
  ["{.items[0].metadata.lab\\els.team}", "a"],
  ["{.items[*].metadata.name}{'\\t'}", "g1 g2 g3\t"],
  ["{\t.kind}", { parse: "unrecognized character in action: U+0009" }],
  ["{.items[*].spec.size.*}", ""],
  ["text {.kind} more {.apiVersion}", "text List more v1"],
];

describe("kubectl's JSONPath", () => {
  it("prints what kubectl 1.35 prints, and fails where and as it fails", () => {
    for (const [template, expected] of cases) {
      if (typeof expected === "object" && "parse" in expected) {
        assert.throws(() => parseJsonPath(template), new JsonPathError(expected.parse), template);
        continue;
      }
      const path = parseJsonPath(template);
      if (typeof expected === "object") {
        assert.throws(() => executeJsonPath(path, list), new JsonPathError(expected.execute), template);
      } else {
        assert.equal(executeJsonPath(path, list), expected, template);
      }
    }
  });

  it("runs one parsed template on many objects", () => {
    const path = parseJsonPath("{.metadata.name}:{range .spec.items[*]}{.name}{end};");
    assert.deepEqual(
      list.items.map((o) => executeJsonPath(path, o)),
      ["g1:;", "g2:ab;", "g3:;"],
    );
  });

  it("hands library callers the values themselves: jsonPath() flattens every action's results", () => {
    const pod = {
      status: {
        phase: "Running",
        conditions: [
          { type: "Initialized", status: "True" },
          { type: "Ready", status: "False" },
        ],
      },
    };
    assert.deepEqual(jsonPath(pod, `{.status.conditions[?(@.type=="Ready")].status}`), ["False"]);
    assert.deepEqual(jsonPath(pod, "{.status.conditions[*].type}"), ["Initialized", "Ready"]);
    assert.deepEqual(jsonPath(pod, "{.status.phase}{.status.conditions[-1:].type}"), ["Running", "Ready"]);
    assert.deepEqual(jsonPath(pod, "{.spec.nodeName}"), [], "a missing field selects nothing");
    assert.deepEqual(jsonPath(pod, "{.status.conditions[0]}"), [{ type: "Initialized", status: "True" }]);
    assert.deepEqual(jsonPath({ items: [null] }, "{range .items[*]}{@}{end}"), [null], "Go's <no value> is null here");
    assert.throws(
      () => jsonPath(pod, "{.status.conditions[5]}"),
      new JsonPathError("array index out of bounds: index 5, length 2"),
    );
    assert.throws(() => jsonPath(pod, "{.status"), JsonPathError);
  });

  it("takes a parsed template, or one made by hand from its source", () => {
    const parsed = parseJsonPath("{.metadata.name}");
    assert.equal(parsed.source, "{.metadata.name}");
    assert.deepEqual(findResults(parsed, list.items[1]), [["g2"]]);
    assert.deepEqual(jsonPath(list.items[1], { source: "{.metadata.namespace}" }), ["play2"]);
  });
});

describe("values as Go prints them", () => {
  it("formats floats as %v does: shortest digits, exponent below 1e-4 and from 1e6 up", () => {
    const cases: [number, string][] = [
      [1.5, "1.5"],
      [123456.5, "123456.5"],
      [1234567.5, "1.2345675e+06"],
      [0.0001, "0.0001"],
      [0.00012, "0.00012"],
      [0.00001, "1e-05"],
      [1e-7, "1e-07"],
      [1.5e300, "1.5e+300"],
      [-0.5, "-0.5"],
      [1e23, "1e+23"],
    ];
    for (const [n, text] of cases) assert.equal(goFloat(n), text, String(n));
  });

  it("prints custom-column cells as fmt.Sprint: Go maps and slices, <nil>, floats as %v", () => {
    // What kubectl printed for the same values with -o custom-columns.
    assert.equal(
      columnText(list.items[0]?.spec),
      "map[big:1.23456785e+07 cpu:500m enabled:true list:[1 two 3.5 true <nil> map[k:v]] name:x<y nested:map[a:[1 2] b:map[c:1]] nothing:<nil> ratio:1.5 size:10 tiny:1e-05 word:café]",
    );
    assert.equal(columnText(null), "<nil>");
    assert.equal(columnText({}), "map[]");
    assert.equal(columnText([]), "[]");
    assert.equal(columnText("a\x1b[31mred\r"), "a^[[31mred\\r");
    assert.equal(goSprint(new GoFloat(2)), "2");
  });

  it("writes JSON as Go's json.Marshal: sorted keys, HTML characters escaped", () => {
    assert.equal(
      goJson({ b: 1, a: "<&>", c: [1.5, null, { z: true, y: "\u2028" }] }),
      '{"a":"\\u003c\\u0026\\u003e","b":1,"c":[1.5,null,{"y":"\\u2028","z":true}]}',
    );
  });
});

describe("cli: kubectl's relaxed field paths (custom columns, --sort-by)", () => {
  it("accepts a path with or without the leading dot and braces", () => {
    for (const p of ["metadata.name", ".metadata.name", "{metadata.name}", "{.metadata.name}"]) {
      assert.equal(relaxedJsonPath(p), "{.metadata.name}", p);
    }
    assert.equal(relaxedJsonPath(".items[?(@.a==1)].b"), "{.items[?(@.a==1)].b}");
    assert.equal(relaxedJsonPath(""), "");
    assert.equal(relaxedJsonPath("{.a}{.b}"), undefined);
    assert.equal(relaxedJsonPath("{range .items[*]}"), "{.range .items[*]}");
  });
});
