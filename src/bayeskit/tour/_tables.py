"""Table helpers shared by the tour's MCMC chapters."""

from __future__ import annotations

from rich.table import Table


def posterior_table(summary, names, truth) -> Table:
    """A rich table of a ``Posterior.summary()`` next to the true values (red: truth outside the HDI)."""
    table = Table(show_header=True, header_style="bold")
    table.add_column("parameter", no_wrap=True)
    for col in ("truth", "mean", "sd", "94% HDI", "ESS\nbulk/tail", "R-hat"):
        table.add_column(col, justify="right", no_wrap=True)
    for name, true in zip(names, truth):
        row = summary.loc[name]
        inside = row["hdi_3%"] <= true <= row["hdi_97%"]
        table.add_row(
            name,
            f"{true:.3f}",
            f"{row['mean']:.3f}",
            f"{row['sd']:.3f}",
            f"{'' if inside else '[red]'}{row['hdi_3%']:.2f} to {row['hdi_97%']:.2f}",
            f"{row['ess_bulk']:.0f}/{row['ess_tail']:.0f}",
            f"{'[red]' if row['r_hat'] > 1.01 else ''}{row['r_hat']:.3f}",
        )
    return table


def print_warnings(console, posterior) -> None:
    """Show a run's diagnostics warnings, or say that there were none."""
    for message in posterior.warnings:
        console.print(f"  [yellow]warning:[/yellow] {message}")
    if not posterior.warnings:
        console.print("No warnings: no divergences, R-hat <= 1.01 and bulk and tail ESS >= 100 per chain.")
