"""Go's text/tabwriter as Docker's tables use it: minwidth 10, padding 3, spaces."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _Writer:
    minwidth: int
    padding: int
    lines: list[list[str]]
    widths: list[int] = field(default_factory=list)
    out: list[str] = field(default_factory=list)

    def write_lines(self, line0: int, line1: int) -> None:
        for line in self.lines[line0:line1]:
            for j, cell in enumerate(line):
                if j < len(self.widths) and j < len(line) - 1:
                    self.out.append(cell + " " * max(0, self.widths[j] - len(cell)))
                else:
                    self.out.append(cell)
            self.out.append("\n")

    def format(self, line0: int, line1: int) -> None:
        """Column blocks: consecutive lines with a cell in this column align."""
        column = len(self.widths)
        this = line0
        while this < line1:
            if column >= len(self.lines[this]) - 1:
                this += 1
                continue
            self.write_lines(line0, this)
            line0 = this
            width = self.minwidth
            while this < line1 and column < len(self.lines[this]) - 1:
                width = max(width, len(self.lines[this][column]) + self.padding)
                this += 1
            self.widths.append(width)
            self.format(line0, this)
            self.widths.pop()
            line0 = this
        self.write_lines(line0, line1)


def tabulate(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Align tab-terminated cells of `text`, as tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)."""
    ends_with_newline = text.endswith("\n")
    rows = text[:-1].split("\n") if ends_with_newline else text.split("\n")
    writer = _Writer(minwidth, padding, [row.split("\t") for row in rows])
    writer.format(0, len(writer.lines))
    result = "".join(writer.out)
    return result if ends_with_newline else result[:-1]
