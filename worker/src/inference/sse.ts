/**
 * Incremental Server-Sent Events parser (the subset OpenAI-compatible servers
 * use: `data:` lines, events separated by a blank line, `:` comments).
 * Feed it decoded text as it arrives; it returns the complete events' data.
 */
export class SseParser {
    private buffer = '';
    private dataLines: string[] = [];

    push(text: string): string[] {
        this.buffer += text;
        const events: string[] = [];
        let nl: number;
        while ((nl = this.buffer.indexOf('\n')) >= 0) {
            let line = this.buffer.slice(0, nl);
            this.buffer = this.buffer.slice(nl + 1);
            if (line.endsWith('\r')) line = line.slice(0, -1);
            if (line === '') {
                if (this.dataLines.length > 0) events.push(this.dataLines.join('\n'));
                this.dataLines = [];
            } else if (line.startsWith('data:')) {
                this.dataLines.push(line.slice(line.startsWith('data: ') ? 6 : 5));
            }
            // `event:`, `id:`, `retry:` and `:` comments carry nothing we use.
        }
        return events;
    }

    /** Whatever complete-but-unterminated event is left when the stream ends. */
    flush(): string[] {
        const rest = this.push('\n\n');
        this.buffer = '';
        return rest;
    }
}
