"""The TOML catalog (adapters/stripe/catalog.py): prices, payment links, and named packs."""

from __future__ import annotations

from pathlib import Path

import pytest

from creditflow.adapters.stripe.catalog import load_catalog
from creditflow.domain.credits import Catalog
from creditflow.errors import NotConfigured

PRICE = "price_1PqXyZ"


def catalog_from(tmp_path: Path, text: str) -> Catalog:
    path = tmp_path / "catalog.toml"
    path.write_text(text)
    return load_catalog(path)


def test_a_catalog_written_before_packs_existed_reads_as_it_did(tmp_path: Path) -> None:
    catalog = catalog_from(
        tmp_path,
        f"[prices.{PRICE}]\ncredits = 100\n[payment_links.plink_1AbCdE]\ncredits = 500\n",
    )

    assert catalog == Catalog(prices={PRICE: 100}, payment_links={"plink_1AbCdE": 500})


def test_a_pack_names_a_price_and_its_credits_price_that_price(tmp_path: Path) -> None:
    catalog = catalog_from(tmp_path, f'[packs.starter]\nprice = "{PRICE}"\ncredits = 100\n')

    assert catalog.packs == {"starter": PRICE}
    assert catalog.prices == {PRICE: 100}


def test_a_pack_without_credits_leaves_the_price_to_the_other_rules(tmp_path: Path) -> None:
    catalog = catalog_from(
        tmp_path,
        f'[packs.starter]\nprice = "{PRICE}"\n[packs.bare]\nprice = "price_meta"\n'
        f"[prices.{PRICE}]\ncredits = 100\n",
    )

    assert catalog.packs == {"starter": PRICE, "bare": "price_meta"}
    assert catalog.prices == {PRICE: 100}


def test_a_pack_agreeing_with_the_prices_table_is_accepted(tmp_path: Path) -> None:
    text = f'[prices.{PRICE}]\ncredits = 100\n[packs.starter]\nprice = "{PRICE}"\ncredits = 100\n'

    assert catalog_from(tmp_path, text).prices == {PRICE: 100}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            f'[prices.{PRICE}]\ncredits = 100\n[packs.starter]\nprice = "{PRICE}"\ncredits = 90\n',
            "packs.starter.*90",
        ),
        ("[packs.starter]\ncredits = 100\n", 'needs `price = "price_..."`'),
        ("[packs.starter]\nprice = 5\n", 'needs `price = "price_..."`'),
        ('[packs.starter]\nprice = ""\n', "must name a Stripe price id"),
        (f'[packs.starter]\nprice = "{PRICE}"\ncredits = 0\n', "positive whole number"),
        ('packs = "starter"\n', r"\[packs\] must be a table"),
    ],
)
def test_a_broken_pack_is_refused_with_the_reason(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(NotConfigured, match=problem):
        catalog_from(tmp_path, text)


def test_a_payment_link_may_give_credits_per_purchase_instead_of_per_unit(tmp_path: Path) -> None:
    catalog = catalog_from(
        tmp_path,
        "[payment_links.plink_a]\ncredits = 5\n"
        "[payment_links.plink_b]\ncredits_per_purchase = 250\n",
    )

    assert catalog == Catalog(payment_links={"plink_a": 5}, link_purchases={"plink_b": 250})


@pytest.mark.parametrize(
    "entry",
    ["credits = 5\ncredits_per_purchase = 250\n", "", 'credits_per_purchase = "abc"\n'],
    ids=["both", "neither", "not a number"],
)
def test_a_payment_link_entry_gives_exactly_one_whole_number_or_the_catalog_is_refused(
    tmp_path: Path, entry: str
) -> None:
    with pytest.raises(NotConfigured, match="plink_b"):
        catalog_from(tmp_path, f"[payment_links.plink_b]\n{entry}")


def test_a_price_may_say_its_subscription_credits_roll_over(tmp_path: Path) -> None:
    catalog = catalog_from(
        tmp_path,
        f"[prices.{PRICE}]\ncredits = 100\nrollover = true\n[prices.price_b]\ncredits = 5\n",
    )

    assert catalog.rollover == frozenset({PRICE})
    assert catalog.recurring == frozenset({PRICE})  # rollover only means something for plans


def test_a_price_may_say_it_is_a_subscription_plan(tmp_path: Path) -> None:
    catalog = catalog_from(
        tmp_path,
        f"[prices.{PRICE}]\ncredits = 100\nrecurring = true\n[prices.price_b]\ncredits = 5\n"
        "recurring = false\n",
    )

    assert (catalog.recurring, catalog.rollover) == (frozenset({PRICE}), frozenset())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("rollover = 1", "rollover must be true or false"),
        ('recurring = "month"', "recurring must be true or false"),
        ("rollover_max = 50", "not supported"),
    ],
)
def test_a_bad_rollover_is_refused(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(NotConfigured, match=message):
        catalog_from(tmp_path, f"[prices.{PRICE}]\ncredits = 100\n{entry}\n")
