"""How many credits a purchase is worth (domain/credits.py): pure rules, no I/O."""

from __future__ import annotations

import pytest

from creditflow.domain.credits import (
    Catalog,
    CreditFacts,
    LineItem,
    NoCreditsRule,
    credits_for,
    needs_line_items,
    parse_credits,
)

PRICE = "price_1PgafmB7WZ01zgkW02Hf9z6c"
LINK = "plink_1Pgc78B7WZ01zgkWC75kX0jg"


def facts(
    metadata_credits: str | None = None,
    payment_link: str | None = None,
    line_items: list[LineItem] | None = None,
) -> CreditFacts:
    return CreditFacts(metadata_credits, payment_link, line_items)


@pytest.mark.parametrize(("raw", "credits"), [("250", 250), (" 7 ", 7), (100, 100), ("007", 7)])
def test_parse_credits_accepts_whole_positive_numbers(raw: object, credits: int) -> None:
    assert parse_credits(raw) == credits


@pytest.mark.parametrize("raw", ["10.5", "-3", "ten", "0", "", "1e3", "+5", "1_000", "10 credits"])
def test_parse_credits_refuses_anything_but_a_whole_positive_number(raw: str) -> None:
    with pytest.raises(NoCreditsRule, match="not a positive whole number"):
        parse_credits(raw)


def test_parse_credits_refuses_digit_characters_that_are_not_decimal_digits() -> None:
    with pytest.raises(NoCreditsRule):
        parse_credits("²")


def test_parse_credits_refuses_more_digits_than_python_converts_as_over_the_limit() -> None:
    """int() refuses strings over 4,300 digits with a ValueError, which crashed the delivery."""
    with pytest.raises(NoCreditsRule, match="over the"):
        parse_credits("9" * 5000)


def test_parse_credits_reads_past_any_number_of_leading_zeros() -> None:
    assert parse_credits("0" * 5000 + "7") == 7


@pytest.mark.parametrize("credits", [0, -5, 1.5, "100", True])
def test_a_catalog_entry_must_give_a_positive_whole_number_of_credits(credits: object) -> None:
    with pytest.raises(ValueError, match="positive whole number"):
        Catalog(prices={PRICE: credits})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="positive whole number"):
        Catalog(payment_links={LINK: credits})  # type: ignore[dict-item]


def test_metadata_credits_win_over_the_catalog_and_need_no_line_items() -> None:
    catalog = Catalog(prices={PRICE: 10}, payment_links={LINK: 500})
    paid = facts(metadata_credits="250", payment_link=LINK)

    assert not needs_line_items(paid)
    assert credits_for(paid, catalog) == 250


def test_invalid_metadata_credits_are_refused_even_when_the_catalog_could_price_the_session() -> (
    None
):
    catalog = Catalog(prices={PRICE: 10})
    with pytest.raises(NoCreditsRule, match=r"10\.5"):
        credits_for(facts("10.5", line_items=[LineItem(PRICE, 1)]), catalog)


def test_catalog_prices_give_credits_per_unit_times_quantity_summed_over_line_items() -> None:
    catalog = Catalog(prices={PRICE: 100, "price_small": 7})
    items = [LineItem(PRICE, 3), LineItem("price_small", 2)]

    assert credits_for(facts(line_items=items), catalog) == 3 * 100 + 2 * 7


def test_a_payment_link_in_the_catalog_gives_its_credits_times_the_quantity_bought() -> None:
    catalog = Catalog(prices={PRICE: 1}, payment_links={LINK: 500})
    link_facts = facts(payment_link=LINK, line_items=[LineItem("price_unlisted", 4)])

    assert needs_line_items(facts(payment_link=LINK))
    assert credits_for(link_facts, catalog) == 2000


def test_a_price_missing_from_the_catalog_is_named_and_nothing_is_guessed() -> None:
    catalog = Catalog(prices={PRICE: 100})
    items = [LineItem(PRICE, 1), LineItem("price_unknown", 1)]

    with pytest.raises(NoCreditsRule, match="price_unknown"):
        credits_for(facts(line_items=items), catalog)


def test_a_line_item_without_a_price_is_not_priced() -> None:
    with pytest.raises(NoCreditsRule, match="no price"):
        credits_for(facts(line_items=[LineItem(None, 1)]), Catalog(prices={PRICE: 100}))


def test_a_catalog_rule_without_readable_line_items_asks_for_the_stripe_key() -> None:
    with pytest.raises(NoCreditsRule, match="STRIPE_SECRET_KEY"):
        credits_for(facts(payment_link=LINK), Catalog(payment_links={LINK: 500}))
    with pytest.raises(NoCreditsRule, match="STRIPE_SECRET_KEY"):
        credits_for(facts(), Catalog(prices={PRICE: 100}))


def test_no_metadata_no_catalog_and_no_stripe_key_says_so() -> None:
    with pytest.raises(NoCreditsRule, match=r"no catalog configured.*STRIPE_SECRET_KEY"):
        credits_for(facts(), Catalog())


def test_without_metadata_line_items_are_needed_even_with_no_catalog() -> None:
    """Rule 3 reads the prices' own metadata.credits, which come inside the line items."""
    assert needs_line_items(facts())
    assert needs_line_items(facts(payment_link=LINK))


def test_a_payment_link_missing_from_a_links_only_catalog_is_named() -> None:
    catalog = Catalog(payment_links={"plink_other": 500})

    with pytest.raises(NoCreditsRule, match=LINK):
        credits_for(facts(payment_link=LINK), catalog)
    with pytest.raises(NoCreditsRule, match=f"{LINK}.*price_unlisted"):
        credits_for(facts(payment_link=LINK, line_items=[LineItem("price_unlisted", 1)]), catalog)


def test_a_price_missing_from_the_catalog_gives_its_own_metadata_credits_per_unit() -> None:
    items = [LineItem("price_meta", 3, price_credits="40")]

    assert credits_for(facts(line_items=items), Catalog()) == 120


def test_the_catalog_wins_over_a_prices_own_metadata_credits() -> None:
    items = [LineItem(PRICE, 2, price_credits="40"), LineItem("price_meta", 1, price_credits="5")]

    assert credits_for(facts(line_items=items), Catalog(prices={PRICE: 100})) == 205


def test_a_payment_link_in_the_catalog_wins_over_its_prices_metadata() -> None:
    items = [LineItem("price_meta", 2, price_credits="40")]
    catalog = Catalog(payment_links={LINK: 500})

    assert credits_for(facts(payment_link=LINK, line_items=items), catalog) == 1000


@pytest.mark.parametrize("raw", ["ten", "2.5", "0"])
def test_a_prices_metadata_credits_that_is_not_a_whole_number_is_refused_naming_the_price(
    raw: str,
) -> None:
    with pytest.raises(NoCreditsRule, match="price_meta"):
        credits_for(facts(line_items=[LineItem("price_meta", 1, price_credits=raw)]), Catalog())


def test_a_price_without_catalog_entry_or_metadata_is_named() -> None:
    items = [LineItem("price_meta", 1, price_credits="5"), LineItem("price_bare", 1)]

    with pytest.raises(NoCreditsRule, match="price_bare not in the catalog and without metadata"):
        credits_for(facts(line_items=items), Catalog())


def test_line_items_priced_over_the_limit_are_refused() -> None:
    items = [LineItem("price_meta", 1000, price_credits=str(10**10))]

    with pytest.raises(NoCreditsRule, match="over the"):
        credits_for(facts(line_items=items), Catalog())


def test_a_session_with_no_line_items_is_not_priced_as_zero_credits() -> None:
    with pytest.raises(NoCreditsRule, match="no line items"):
        credits_for(facts(line_items=[]), Catalog(prices={PRICE: 100}))


def test_a_payment_link_priced_per_purchase_needs_no_line_items_whatever_the_quantity() -> None:
    catalog = Catalog(link_purchases={LINK: 250})

    assert credits_for(facts(payment_link=LINK), catalog) == 250  # line items unread
    assert credits_for(facts(payment_link=LINK, line_items=[LineItem(PRICE, 3)]), catalog) == 250


def test_metadata_credits_still_win_over_a_per_purchase_payment_link() -> None:
    catalog = Catalog(link_purchases={LINK: 250})

    assert credits_for(facts(metadata_credits="7", payment_link=LINK), catalog) == 7
