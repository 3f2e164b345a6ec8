package dev.ladon.nn.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void parsesNestedObjectsKeepingKeyOrder() {
        Object v = Json.parse(" {\"b\": [1, -2, 3.5e1], \"a\": {\"x\": true, \"y\": null, \"z\": false}} ");
        assertThat(v).isInstanceOf(LinkedHashMap.class);
        Map<?, ?> m = (Map<?, ?>) v;
        assertThat(List.copyOf(m.keySet())).isEqualTo(List.of("b", "a"));
        assertThat(m.get("b")).isEqualTo(List.of(1L, -2L, 35.0));
        Map<?, ?> a = (Map<?, ?>) m.get("a");
        assertThat(a.get("x")).isEqualTo(Boolean.TRUE);
        assertThat(a.containsKey("y")).isTrue();
        assertThat(a.get("y")).isNull();
        assertThat(a.get("z")).isEqualTo(Boolean.FALSE);
    }

    @Test
    void decodesEscapesIncludingSurrogatePairs() {
        Object v = Json.parse("\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\"");
        assertThat(v).isEqualTo("a\"b\\c/d\n\té\uD83D\uDE00");
    }

    @Test
    void largeIntegersStayExact() {
        assertThat(Json.parse("9007199254740993")).isEqualTo(9007199254740993L);
        assertThatThrownBy(() -> Json.parse("92233720368547758070")).hasMessageContaining("64 bits");
    }

    @Test
    void writeThenParseRoundTrips() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("quote\"and\\slash", "line\nbreak\u0001 é 日本");
        m.put("list", List.of(0L, 42L, -7L));
        m.put("nested", Map.of("k", "v"));
        String text = Json.write(m);
        assertThat(text).doesNotContain("\n");
        assertThat(Json.parse(text)).isEqualTo(m);
    }

    @Test
    void rejectsMalformedInputWithPosition() {
        assertThatThrownBy(() -> Json.parse("{\"a\":1} x")).hasMessageContaining("after the JSON value");
        assertThatThrownBy(() -> Json.parse("{\"a\":1,\"a\":2}")).hasMessageContaining("duplicate key");
        assertThatThrownBy(() -> Json.parse("{\"a\" 1}")).hasMessageContaining("expected ':'");
        assertThatThrownBy(() -> Json.parse("[1,]")).hasMessageContaining("unexpected character");
        assertThatThrownBy(() -> Json.parse("\"abc")).hasMessageContaining("unterminated");
        assertThatThrownBy(() -> Json.parse("01")).hasMessageContaining("after the JSON value");
        assertThatThrownBy(() -> Json.parse("{")).hasMessageContaining("character 1");
        assertThatThrownBy(() -> Json.parse("[".repeat(100) + "]".repeat(100))).hasMessageContaining("nesting");
    }
}
