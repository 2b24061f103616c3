package rtp.jobs.maintenance;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code --key value} arguments; a key may repeat ({@code --partition a --partition b}).
 *
 * <p>{@code --catalog-property k=v} values are secrets (the catalog password): they are kept out
 * of {@link #toString()}, which is what the job logs.
 */
final class JobArgs {

    private final Map<String, List<String>> values = new LinkedHashMap<>();

    JobArgs(String[] argv) {
        for (int i = 0; i < argv.length; i++) {
            if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
                throw new IllegalArgumentException("expected --key value pairs, got: " + argv[i]);
            }
            values.computeIfAbsent(argv[i].substring(2), k -> new ArrayList<>()).add(argv[++i]);
        }
    }

    String required(String key) {
        String value = optional(key, null);
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException("missing argument --" + key);
        }
        return value;
    }

    String optional(String key, String fallback) {
        List<String> all = values.get(key);
        return all == null || all.isEmpty() ? fallback : all.get(all.size() - 1);
    }

    long longValue(String key, long fallback) {
        String value = optional(key, null);
        if (value == null) {
            return fallback;
        }
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + key + " must be an integer, got " + value);
        }
    }

    List<String> all(String key) {
        return values.getOrDefault(key, new ArrayList<>());
    }

    /** Repeated {@code --key name=value} arguments as a map. */
    Map<String, String> properties(String key) {
        Map<String, String> props = new HashMap<>();
        for (String pair : all(key)) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("--" + key + " expects name=value, got a value without '='");
            }
            props.put(pair.substring(0, eq), pair.substring(eq + 1));
        }
        return props;
    }

    @Override
    public String toString() {
        StringBuilder out = new StringBuilder();
        values.forEach(
                (key, list) -> {
                    for (String value : list) {
                        String shown = key.equals("catalog-property") ? value.replaceAll("=.*", "=***") : value;
                        out.append(" --").append(key).append(' ').append(shown);
                    }
                });
        return out.toString().trim();
    }
}
